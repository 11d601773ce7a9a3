package man

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"xhad/dsl"
)

// markRun is the action of testApp's takeover: it leaves a file behind
// (XHAD_MAN_TEST_MARK) so a test sees that completion ran a command.
func markRun(*cli.Context) error {
	if p := os.Getenv("XHAD_MAN_TEST_MARK"); p != "" {
		return os.WriteFile(p, []byte("takeover ran\n"), 0o644)
	}
	return nil
}

// testApp has the shape of main's application: commands with flags, env
// vars, placeholders, argument usage, and a hidden command.
func testApp() *cli.App {
	cfg := func() cli.Flag {
		return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE`",
			Value: "/etc/xhad/xhad.toml", EnvVars: []string{"XHAD_CONFIG"}}
	}
	return &cli.App{
		Name:                 "xhad",
		Usage:                "two-node HA daemon for Xen dom0 hosts",
		Version:              "1.2.3",
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			{Name: "run", Usage: "run the daemon (under systemd: Type=notify)", Flags: []cli.Flag{cfg(),
				&cli.StringFlag{Name: "node", Usage: "this node's `NAME`", EnvVars: []string{"XHAD_NODE"}},
				&cli.BoolFlag{Name: "force-main", Aliases: []string{"m"}, Usage: "a lone node may take over"}},
				Action: func(*cli.Context) error { return nil }},
			{Name: "takeover", Usage: "take every group over", Flags: []cli.Flag{cfg(),
				&cli.BoolFlag{Name: "force", Usage: "override the database replication gate"}},
				Action: markRun},
			{Name: "maintenance", Usage: "stop acting", ArgsUsage: "on|off", Flags: []cli.Flag{cfg()},
				Action: func(*cli.Context) error { return nil }},
			{Name: "sim", Usage: "simulators", Hidden: true, Action: func(*cli.Context) error { return nil }},
		},
	}
}

func TestXhad8DocumentsEveryVisibleCommandAndFlag(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	for _, setup := range []bool{false, true} {
		app := testApp()
		if setup {
			app.Setup() // adds the help command and --help flags; they must not show
		}
		page, err := Xhad8(app)
		if err != nil {
			t.Fatalf("Xhad8 (setup=%v): %v", setup, err)
		}
		text := string(page)
		flat := strings.ReplaceAll(text, "\n", " ") // prose is broken into lines
		want := []string{
			`.TH XHAD 8 "2023-11-14" "xhad 1.2.3" "System Administration"`,
			`xhad \- two\-node HA daemon for Xen dom0 hosts`,
			`.SS "xhad run"`,
			`.SS "xhad takeover"`,
			`.SS "xhad maintenance on|off"`,
			`\fB\-\-config\fR, \fB\-c\fR \fIFILE\fR`,
			`Configuration FILE (default: /etc/xhad/xhad.toml; environment: XHAD_CONFIG).`,
			`\fB\-\-force\-main\fR, \fB\-m\fR`,
			`\fB\-\-node\fR \fINAME\fR`,
			`.SH SIGNALS`, `.B SIGHUP`, `.B SIGUSR1`, `.B SIGUSR2`, `.BR SIGTERM ", " SIGINT`,
			`.SH EXIT STATUS`, `.SH FILES`, `.SH SEE ALSO`, `.SH ENVIRONMENT`,
			`.B STANDBY`, `.B STARTING`, `.B ACTIVE`, `.B STOPPING`, `.B FAILED`, `.B Maintenance`,
			// XHAD_CONFIG is read by three commands, XHAD_NODE by one.
			"(read by run, takeover, maintenance)",
			"(read by run).",
		}
		for _, w := range want {
			if !strings.Contains(flat, w) {
				t.Errorf("setup=%v: xhad(8) lacks %q; page:\n%s", setup, w, text)
			}
		}
		for _, bad := range []string{`"xhad sim"`, "simulators", `xhad help`, `\-\-help`, `\-\-generate`} {
			if strings.Contains(text, bad) {
				t.Errorf("setup=%v: xhad(8) shows %q, which users cannot type or should not see", setup, bad)
			}
		}
	}
}

func TestXhad8RefusesAnAppWithoutCommands(t *testing.T) {
	if _, err := Xhad8(nil); err == nil {
		t.Error("Xhad8(nil) returned no error")
	}
	_, err := Xhad8(&cli.App{Name: "xhad", Commands: []*cli.Command{{Name: "x", Hidden: true}}})
	if err == nil || !strings.Contains(err.Error(), "no visible commands") {
		t.Errorf("Xhad8 of an app with only hidden commands: err = %v, want one naming the missing commands", err)
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"auth-key-file", `auth\-key\-file`},
		{`a\b`, `a\eb`},
		{"run `xhad unfence` now", `run \fBxhad unfence\fR now`},
		{"unclosed `bold", `unclosed \fBbold\fR`},
		{".starts with a dot", `\&.starts with a dot`},
		{"line\n'quote", "line\n\\&'quote"},
	} {
		if got := escape(tc.in); got != tc.want {
			t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPageDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "0")
	if got := pageDate(testApp().Compiled); got != "1970-01-01" {
		t.Errorf("pageDate with SOURCE_DATE_EPOCH=0 = %q, want 1970-01-01", got)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "not a number")
	if got := pageDate(mustTime(t, "2025-02-03T10:00:00Z")); got != "2025-02-03" {
		t.Errorf("pageDate with an invalid SOURCE_DATE_EPOCH = %q, want the fallback 2025-02-03", got)
	}
}

// unroff undoes escape for the comparisons below.
func unroff(s string) string {
	r := strings.NewReplacer(`\-`, "-", `\e`, `\`, `\fB`, "", `\fR`, "", `\fI`, "", `\&`, "")
	return r.Replace(s)
}

var (
	ssRE      = regexp.MustCompile(`^\.SS "(.*)"$`)
	headingRE = regexp.MustCompile(`^\[\[?([a-z.-]+)\]\]?(?: kind = "([a-z]+)")?$`)
)

// documentedKey is what xhad.toml(5) says about one key.
type documentedKey struct {
	kind dsl.Kind
	text string // the entry's lines after the key name, unescaped
}

// parseToml5 reads the KEYS section back: every table heading and every
// key entry (.TP then .B name) under it, with the entry's text.
func parseToml5(t *testing.T, page string) map[string]*documentedKey {
	t.Helper()
	out := map[string]*documentedKey{}
	lines := strings.Split(page, "\n")
	inKeys := false
	table := ""
	var kind dsl.Kind
	var cur *documentedKey
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, ".SH ") {
			inKeys = l == ".SH KEYS"
			cur = nil
			continue
		}
		if !inKeys {
			continue
		}
		if m := ssRE.FindStringSubmatch(l); m != nil {
			cur = nil
			h := strings.ReplaceAll(unroff(m[1]), `""`, `"`) // quoted macro argument
			if h == "Top level" {
				table, kind = "", ""
				continue
			}
			hm := headingRE.FindStringSubmatch(h)
			if hm == nil {
				t.Fatalf("xhad.toml(5) line %d: heading %q is not a TOML table header", i+1, h)
			}
			table, kind = hm[1], dsl.Kind(hm[2])
			if kind == "" {
				out[table] = &documentedKey{}
			}
			continue
		}
		if l == ".TP" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], ".B ") {
			name := unroff(strings.TrimPrefix(lines[i+1], ".B "))
			path := name
			if table != "" {
				path = table + "." + name
			}
			if _, dup := out[path]; dup {
				t.Errorf("xhad.toml(5) documents %s twice", path)
			}
			cur = &documentedKey{kind: kind}
			out[path] = cur
			i++
			continue
		}
		if cur != nil {
			cur.text += unroff(l) + "\n"
		}
	}
	return out
}

func TestXhadToml5DocumentsExactlyTheKeysOfDsl(t *testing.T) {
	page := string(XhadToml5())
	got := parseToml5(t, page)
	keys := dsl.Keys()
	if len(keys) < 50 {
		t.Fatalf("dsl.Keys() returned %d keys; expected the full schema", len(keys))
	}
	want := map[string]dsl.KeyDoc{}
	for _, k := range keys {
		want[k.Path] = k
		d, ok := got[k.Path]
		if !ok {
			t.Errorf("xhad.toml(5) does not document %s", k.Path)
			continue
		}
		if isTable(k) {
			continue
		}
		if d.kind != k.Kind {
			t.Errorf("%s: documented under kind %q, dsl says kind %q", k.Path, d.kind, k.Kind)
		}
		if !strings.HasPrefix(d.text, k.Type) {
			t.Errorf("%s: entry does not start with its type %q:\n%s", k.Path, k.Type, d.text)
		}
		// The page shows `code` in bold: compare without the backquotes.
		doc := strings.ReplaceAll(strings.Join(strings.Fields(k.Doc), " "), "`", "")
		for _, part := range []string{k.Unit, k.Example, doc} {
			if !strings.Contains(strings.Join(strings.Fields(d.text), " "), part) {
				t.Errorf("%s: entry lacks %q:\n%s", k.Path, part, d.text)
			}
		}
		switch {
		case k.Required:
			if !strings.Contains(d.text, "required") {
				t.Errorf("%s is required but its entry does not say so:\n%s", k.Path, d.text)
			}
		case k.Default != "":
			if !strings.Contains(d.text, "default: "+k.Default+".") {
				t.Errorf("%s: entry lacks its default %q:\n%s", k.Path, k.Default, d.text)
			}
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("xhad.toml(5) documents %s, which dsl.Keys() does not have", path)
		}
	}
}

// requireTool returns the path of a program the test needs; without it the
// test is skipped, or fails when CI=true.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI=true): apt-get install %s", name, pkg)
		}
		t.Skipf("%s not found: apt-get install %s", name, pkg)
	}
	return p
}

func renderedPages(t *testing.T) map[string][]byte {
	t.Helper()
	p8, err := Xhad8(testApp())
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"xhad.8": p8, "xhad.toml.5": XhadToml5()}
}

func TestPagesAreMandocLintClean(t *testing.T) {
	mandoc := requireTool(t, "mandoc", "mandoc")
	for name, page := range renderedPages(t) {
		path := t.TempDir() + "/" + name
		if err := os.WriteFile(path, page, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(mandoc, "-Tlint", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("mandoc -Tlint %s (style messages included): %v\n%s", name, err, out)
		}
	}
}

func TestPagesAreGroffClean(t *testing.T) {
	groff := requireTool(t, "groff", "groff")
	for name, page := range renderedPages(t) {
		cmd := exec.Command(groff, "-man", "-ww", "-z")
		cmd.Stdin = bytes.NewReader(page)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww -z %s: %v\n%s", name, err, out)
		}
	}
}

func TestPagesRenderWithMan(t *testing.T) {
	man := requireTool(t, "man", "man-db")
	for name, page := range renderedPages(t) {
		path := t.TempDir() + "/" + name
		if err := os.WriteFile(path, page, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(man, "-l", path)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("man -l %s: %v\n%s", name, err, out)
		}
		text := string(out)
		want := map[string][]string{
			"xhad.8":      {"NAME", "xhad - two-node HA daemon", "SIGNALS", "xhad run", "--config, -c FILE"},
			"xhad.toml.5": {"NAME", "KEYS", "[timing]", "keepalive", "auth-key-file", `[[group.resource]] kind = "xen"`},
		}[name]
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("man -l %s: rendered text lacks %q:\n%s", name, w, text)
			}
		}
	}
}

func mustTime(t *testing.T, s string) (tm time.Time) {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParaLaysOutSentencesAndShortLines(t *testing.T) {
	in := "First sentence, e.g. with an abbreviation. Second one is much longer than the line width allows, so it has to be broken at a space somewhere. Third `code-word` ends it."
	got := para(in)
	want := "First sentence, e.g. with an abbreviation.\n" +
		"Second one is much longer than the line width allows, so it has to be broken at\n" + // 79 bytes
		"a space somewhere.\n" +
		`Third \fBcode\-word\fR ends it.`
	if got != want {
		t.Errorf("para:\n%s\nwant:\n%s", got, want)
	}
	for _, l := range strings.Split(para(strings.Repeat("word ", 100)), "\n") {
		if len(l) > maxLine {
			t.Errorf("para left a line of %d bytes: %q", len(l), l)
		}
	}
}

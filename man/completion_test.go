package man

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestMain lets the test binary play xhad for the completion scripts: run
// as "xhad" (a symlink in a directory first in PATH) it runs testApp.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "xhad" {
		if err := testApp().Run(os.Args); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeXhadPath returns a PATH whose first directory holds "xhad", this test
// binary in the role of the program.
func fakeXhadPath(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "xhad")); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// completeBash sources the script, completes the command line words (the
// last one being completed) and returns the sorted candidates.
func completeBash(t *testing.T, path string, words ...string) []string {
	t.Helper()
	bash := requireTool(t, "bash", "bash")
	script := filepath.Join(t.TempDir(), "xhad.bash")
	if err := os.WriteFile(script, []byte(BashCompletion()), 0o644); err != nil {
		t.Fatal(err)
	}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	prog := `source "$1" || exit 9
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_xhad xhad "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script)
	mark := filepath.Join(t.TempDir(), "ran")
	cmd.Env = append(os.Environ(), "PATH="+path, "XHAD_MAN_TEST_MARK="+mark)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	if b, err := os.ReadFile(mark); err == nil {
		t.Errorf("completing %q ran a command instead of listing candidates: %s", words, b)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	return got
}

func TestBashCompletion(t *testing.T) {
	path := fakeXhadPath(t)
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"xhad", ""}, "h help maintenance run takeover"}, // not the hidden sim
		{[]string{"xhad", "ta"}, "takeover"},
		{[]string{"xhad", "run", "--"}, "--config --force-main --help --node"},
		{[]string{"xhad", "takeover", "--f"}, "--force"},
		{[]string{"xhad", "maintenance", ""}, "off on"},
		{[]string{"xhad", "maintenance", "o"}, "off on"},
		// After "--" urfave/cli would run takeover; the script must not ask.
		{[]string{"xhad", "takeover", "--", ""}, ""},
		{[]string{"xhad", "takeover", "--", "--f"}, ""},
	} {
		got := strings.Join(completeBash(t, path, tc.words...), " ")
		if got != tc.want {
			t.Errorf("completing %q: got %q, want %q", tc.words, got, tc.want)
		}
	}
}

func TestBashCompletionOffersFilesAfterConfig(t *testing.T) {
	path := fakeXhadPath(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cluster.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := completeBash(t, path, "xhad", "check-config", "--config", dir+"/clu")
	if len(got) != 1 || got[0] != dir+"/cluster.toml" {
		t.Errorf("completing a --config value: got %q, want the one matching file", got)
	}
}

func TestZshCompletionParses(t *testing.T) {
	zsh := requireTool(t, "zsh", "zsh")
	script := filepath.Join(t.TempDir(), "_xhad")
	if err := os.WriteFile(script, []byte(ZshCompletion()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n _xhad: %v\n%s", err, out)
	}
	if !strings.HasPrefix(ZshCompletion(), "#compdef xhad\n") {
		t.Error("the zsh script does not start with #compdef xhad: compinit would not load it")
	}
}

// TestZshCompletionAsksTheBinary runs the candidate query the zsh script
// makes and checks the name:usage lines _describe receives.
func TestZshCompletionAsksTheBinary(t *testing.T) {
	path := fakeXhadPath(t)
	cmd := exec.Command("env", "0=zsh", "xhad", "--generate-bash-completion")
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xhad --generate-bash-completion: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "takeover:take every group over\n") {
		t.Errorf("zsh candidates lack \"takeover:take every group over\":\n%s", out)
	}
	if !strings.Contains(ZshCompletion(), "env 0=zsh ${words[1,CURRENT-1]} --generate-bash-completion") {
		t.Error("the zsh script no longer asks the binary the way this test does; update the test")
	}
}

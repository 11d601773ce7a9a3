package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkDurationsAreStrings walks a Go value and its JSON side by side: every
// time.Duration must be a string that parses back to the same duration, and
// every other field must be there under its json name.
func checkDurationsAreStrings(t *testing.T, path string, v reflect.Value, j any) int {
	t.Helper()
	if v.Type() == durationType {
		s, ok := j.(string)
		if !ok {
			t.Errorf("%s: JSON %v (%T), want a duration string", path, j, j)
			return 1
		}
		d, err := time.ParseDuration(s)
		if err != nil || d != time.Duration(v.Int()) {
			t.Errorf("%s: JSON %q, want %q", path, s, time.Duration(v.Int()))
		}
		return 1
	}
	count := 0
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			count += checkDurationsAreStrings(t, path, v.Elem(), j)
		}
	case reflect.Struct:
		m, ok := j.(map[string]any)
		if !ok {
			t.Errorf("%s: JSON %T, want an object", path, j)
			return 0
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			jv, present := m[name]
			if !present {
				if opts == "omitempty" && isEmptyJSON(v.Field(i)) {
					continue
				}
				t.Errorf("%s.%s: missing from the JSON", path, name)
				continue
			}
			count += checkDurationsAreStrings(t, path+"."+name, v.Field(i), jv)
		}
	case reflect.Slice, reflect.Array:
		a, ok := j.([]any)
		if !ok || len(a) != v.Len() {
			t.Errorf("%s: JSON %v, want %d elements", path, j, v.Len())
			return 0
		}
		for i := range v.Len() {
			count += checkDurationsAreStrings(t, fmt.Sprintf("%s[%d]", path, i), v.Index(i), a[i])
		}
	}
	return count
}

func TestJSONWritesDurationsAsStrings(t *testing.T) {
	for _, file := range []string{"lvm-over-drbd.toml", "mariadb-both.toml", "postgresql-both.toml", "drbd-over-lvm.toml"} {
		t.Run(file, func(t *testing.T) {
			p := loadExample(t, file)
			for _, v := range []any{p, *p} { // pointer and value marshal alike
				raw, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				var tree any
				if err := json.Unmarshal(raw, &tree); err != nil {
					t.Fatalf("invalid JSON: %v\n%s", err, raw)
				}
				if n := checkDurationsAreStrings(t, "plan", reflect.ValueOf(*p), tree); n < 15 {
					t.Errorf("only %d durations seen", n)
				}
			}
		})
	}
}

func TestJSONOfPartsAlone(t *testing.T) {
	g := Group{Name: "g", RestartWindow: 90 * time.Second, Resources: []Resource{{Name: "web", Kind: KindXen, StartTimeout: time.Minute,
		Xen: &XenSpec{ShutdownTimeout: 2 * time.Minute}}}}
	raw, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"restart-window":"1m30s"`, `"start-timeout":"1m"`, `"shutdown-timeout":"2m"`, `"stop-timeout":"0s"`, `"after":null`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("JSON lacks %s:\n%s", want, raw)
		}
	}
	if bytes.Contains(raw, []byte(`"drbd"`)) {
		t.Errorf("JSON has the empty drbd spec despite omitempty:\n%s", raw)
	}
}

func TestStages(t *testing.T) {
	res := func(name string, after ...string) Resource { return Resource{Name: name, After: after} }
	tests := []struct {
		name        string
		group       Group
		start, stop [][]string
	}{
		{
			name:  "chain",
			group: Group{Resources: []Resource{res("a"), res("b", "a"), res("c", "b")}},
			start: [][]string{{"a"}, {"b"}, {"c"}},
			stop:  [][]string{{"c"}, {"b"}, {"a"}},
		},
		{
			name:  "fan out and in",
			group: Group{Resources: []Resource{res("r0"), res("vg0", "r0"), res("w1", "vg0"), res("w2", "vg0"), res("w3", "vg0"), res("ip", "w1", "w2", "w3")}},
			start: [][]string{{"r0"}, {"vg0"}, {"w1", "w2", "w3"}, {"ip"}},
			stop:  [][]string{{"ip"}, {"w1", "w2", "w3"}, {"vg0"}, {"r0"}},
		},
		{
			name:  "independent branches stop as early as they can",
			group: Group{Resources: []Resource{res("d1"), res("d2"), res("x1", "d1"), res("x2", "d2"), res("ip", "x1")}},
			start: [][]string{{"d1", "d2"}, {"x1", "x2"}, {"ip"}},
			stop:  [][]string{{"x2", "ip"}, {"d2", "x1"}, {"d1"}},
		},
		{
			name: "explicit stop order is sequential",
			group: Group{Resources: []Resource{res("a"), res("b"), res("c", "a", "b")},
				StopOrder: []string{"c", "b", "a"}, ExplicitStopOrder: true},
			start: [][]string{{"a", "b"}, {"c"}},
			stop:  [][]string{{"c"}, {"b"}, {"a"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.group.StartStages(); !reflect.DeepEqual(got, tc.start) {
				t.Errorf("StartStages %v, want %v", got, tc.start)
			}
			if got := tc.group.StopStages(); !reflect.DeepEqual(got, tc.stop) {
				t.Errorf("StopStages %v, want %v", got, tc.stop)
			}
		})
	}
}

// TestImpliedDependencies checks the stage rule through the parser.
func TestImpliedDependencies(t *testing.T) {
	group := func(strict bool, kinds ...string) string {
		s := minimal + fmt.Sprintf("[[group]]\nname = \"g\"\nstrict-order = %v\n", strict)
		for i, k := range kinds {
			s += fmt.Sprintf("[[group.resource]]\nname = \"r%d\"\nkind = %q\n", i, k)
			switch k {
			case "lvm":
				s += fmt.Sprintf("volume-group = \"vg%d\"\n", i)
			case "xen":
				s += fmt.Sprintf("config = \"/etc/xen/r%d.cfg\"\n", i)
			case "systemd":
				s += fmt.Sprintf("unit = \"u%d.service\"\n", i)
			}
		}
		return s
	}
	tests := []struct {
		name  string
		toml  string
		after [][]string // per resource
	}{
		{"stages of one kind", group(false, "drbd", "drbd", "lvm", "xen", "xen", "xen", "systemd"),
			[][]string{{}, {}, {"r0", "r1"}, {"r2"}, {"r2"}, {"r2"}, {"r3", "r4", "r5"}}},
		{"strict order", group(true, "drbd", "drbd", "xen", "xen"),
			[][]string{{}, {"r0"}, {"r1"}, {"r2"}}},
		{"a kind again later is a new stage", group(false, "xen", "systemd", "xen"),
			[][]string{{}, {"r0"}, {"r1"}}},
		{"explicit after replaces the implied set", group(false, "drbd", "drbd", "xen") + "after = [\"r1\"]\n",
			[][]string{{}, {}, {"r1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("x.toml", []byte(tc.toml), Options{SkipFileChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, r := range p.Groups[0].Resources {
				got = append(got, r.After)
			}
			if !reflect.DeepEqual(got, tc.after) {
				t.Errorf("after %v, want %v", got, tc.after)
			}
		})
	}
}

func TestNodeName(t *testing.T) {
	plan := &Plan{File: "/etc/xhad/xhad.toml", Nodes: [2]Node{{Name: "xen1"}, {Name: "xen2"}}}
	host := func(name string, err error) func() (string, error) {
		return func() (string, error) { return name, err }
	}
	tests := []struct {
		name, override string
		hostname       func() (string, error)
		want, wantErr  string
	}{
		{"override", "xen2", host("xen1", nil), "xen2", ""},
		{"hostname", "", host("xen1", nil), "xen1", ""},
		{"fully qualified hostname", "", host("xen2.example.org", nil), "xen2", ""},
		{"bad override", "xen3", host("xen1", nil), "",
			`node name "xen3" from --node or XHAD_NODE is neither "xen1" nor "xen2", the nodes of /etc/xhad/xhad.toml`},
		{"bad hostname", "", host("build7", nil), "",
			`hostname "build7" is neither "xen1" nor "xen2", the nodes of /etc/xhad/xhad.toml; set --node or XHAD_NODE, or name the [[node]] after the host`},
		{"no hostname", "", host("", errors.New("uname failed")), "",
			`find this node's name: uname failed; set --node or XHAD_NODE to "xen1" or "xen2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nodeName(plan, tc.override, tc.hostname)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("nodeName = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRenderText(t *testing.T) {
	p := loadExample(t, "lvm-over-drbd.toml")
	var buf bytes.Buffer
	if err := RenderText(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"cluster          xenpair\n",
		"  xen1  address 10.0.0.1:694, address2 192.168.1.1:694, serial /dev/ttyS0 at 115200 baud, public 192.0.2.1\n",
		"  deadtime          5s     50 ticks ",
		"  start (stages)\n    1.  r0\n    2.  vg0\n    3.  web, mail, files, build (4 in parallel, at most 4 at once)\n    4.  service-ip\n",
		"  stop (reverse start order)\n    1.  service-ip\n    2.  web, mail, files, build (4 in parallel, at most 4 at once)\n    3.  vg0\n    4.  r0\n",
		"peer-fence          on: after a takeover, drop the peer's TCP ports 7788\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestRenderTextWrapsLongStages(t *testing.T) {
	text := minimal + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r0\"\nkind = \"drbd\"\n"
	var names []string
	for i := range 100 {
		name := fmt.Sprintf("domain%03d", i)
		names = append(names, name)
		text += fmt.Sprintf("[[group.resource]]\nname = %q\nkind = \"xen\"\nconfig = \"/etc/xen/%s.cfg\"\n", name, name)
	}
	p, err := Parse("x.toml", []byte(text), Options{SkipFileChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := RenderText(&buf, p); err != nil {
		t.Fatal(err)
	}
	start := buf.String()[strings.Index(buf.String(), "  start (stages)"):strings.Index(buf.String(), "  stop (")]
	for _, n := range names {
		if strings.Count(start, n+",")+strings.Count(start, n+" ") != 1 {
			t.Errorf("%s is not listed once in the start stages", n)
		}
	}
	for _, l := range strings.Split(start, "\n") {
		if len(l) > 110 {
			t.Errorf("line of %d bytes: %s", len(l), l)
		}
	}
	if !strings.Contains(start, "(100 in parallel, at most 8 at once)") {
		t.Errorf("no parallel note in:\n%s", start)
	}
}

// TestIsolationGrace: the survivor's wait covers how much the isolated
// node's ping round outlasts deadtime, plus its immediate stop; it is 0
// when nothing stops on isolation.
func TestIsolationGrace(t *testing.T) {
	tests := []struct {
		name, failover, timing string
		grace                  time.Duration
		onIsolation            string
		fencing                string
	}{
		{"no ping targets: no grace", "", "", 0, "stop", ""},
		{"defaults: deadtime 6s outlasts the 2s ping round", `ping-targets = ["192.0.2.254"]`, "", 5 * time.Second, "stop", ""},
		{"deadtime 1s: the ping round outlasts it by 1s", `ping-targets = ["192.0.2.254"]`, "keepalive = \"100ms\"\ndeadtime = \"1s\"", 6 * time.Second, "stop", ""},
		{"longer ping-timeout", "ping-targets = [\"192.0.2.254\"]\nping-timeout = \"3s\"", "keepalive = \"100ms\"\ndeadtime = \"1s\"", 8 * time.Second, "stop", ""},
		{"given", "ping-targets = [\"192.0.2.254\"]\nisolation-grace = \"2s\"", "", 2 * time.Second, "stop", ""},
		{"keep: nothing to wait for", "ping-targets = [\"192.0.2.254\"]\non-isolation = \"keep\"\nisolation-grace = \"9s\"", "", 0, "keep", ""},
		{"watchdog: outlasts watchdog-timeout", `ping-targets = ["192.0.2.254"]`, "deadtime = \"10s\"", 9*time.Second + time.Second, "stop",
			"watchdog-device = \"/dev/watchdog\"\nwatchdog-timeout = \"9s\""},
		{"watchdog shorter than the usual grace", `ping-targets = ["192.0.2.254"]`, "", 5 * time.Second, "stop",
			"watchdog-device = \"/dev/watchdog\"\nwatchdog-timeout = \"2s\""},
		{"watchdog given a long enough grace", "ping-targets = [\"192.0.2.254\"]\nisolation-grace = \"7s\"", "", 7 * time.Second, "stop",
			"watchdog-device = \"/dev/watchdog\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := minimal + "[timing]\n" + tc.timing + "\n[failover]\n" + tc.failover + "\n[fencing]\n" + tc.fencing + "\n"
			p, err := Parse("x.toml", []byte(src), Options{SkipFileChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.Failover.IsolationGrace != tc.grace || p.Failover.OnIsolation != tc.onIsolation {
				t.Errorf("on-isolation %q, isolation-grace %s; want %q, %s", p.Failover.OnIsolation, p.Failover.IsolationGrace, tc.onIsolation, tc.grace)
			}
			if want := int(tc.grace / p.Timing.Tick); p.Ticks.IsolationGrace != want {
				t.Errorf("isolation-grace %d ticks, want %d", p.Ticks.IsolationGrace, want)
			}
		})
	}
}

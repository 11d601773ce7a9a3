package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// everyKind is minimal plus one resource of every kind, each with only its
// required keys, so every default applies. Resource i has kind kindOrder[i].
var everyKind = minimal + `[[group]]
name = "g"
  [[group.resource]]
  name = "r0"
  kind = "drbd"
  [[group.resource]]
  name = "vg0"
  kind = "lvm"
  volume-group = "vg0"
  [[group.resource]]
  name = "web"
  kind = "xen"
  config = "/etc/xen/web.cfg"
  [[group.resource]]
  name = "vip"
  kind = "ip"
  address = "192.0.2.10/24"
  interface = "xenbr0"
  [[group.resource]]
  name = "nginx"
  kind = "systemd"
  unit = "nginx.service"
  [[group.resource]]
  name = "app"
  kind = "exec"
  agent = "ocf:heartbeat:IPaddr2"
  [[group.resource]]
  name = "gate"
  kind = "database"
  engine = "postgresql"
  addresses = { xen1 = "10.0.1.11", xen2 = "10.0.1.12" }
  credentials-file = "/etc/xhad/db.cred"
`

var kindOrder = []Kind{KindDRBD, KindLVM, KindXen, KindIP, KindSystemd, KindExec, KindDatabase}

// jsonPathOf maps a schema path to the path of its value in the plan's JSON.
func jsonPathOf(s keySpec) []string {
	parts := strings.Split(s.path, ".")
	var out []string
	for i, p := range parts {
		last := i == len(parts)-1
		switch {
		case i == 0 && p == "node" && !last:
			out = append(out, "nodes", "0")
		case i == 0 && p == "group" && !last:
			out = append(out, "groups", "0")
		case i == 1 && p == "resource" && parts[0] == "group" && !last:
			kind := s.kind
			if kind == "" {
				kind = KindDRBD
			}
			idx := 0
			for j, k := range kindOrder {
				if k == kind {
					idx = j
				}
			}
			out = append(out, "resources", strconv.Itoa(idx))
			if s.kind != "" {
				out = append(out, string(s.kind))
			}
		default:
			out = append(out, p)
		}
	}
	return out
}

func lookupJSON(v any, path []string) (any, bool) {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// TestFixedDefaultsAreWhatTheParserUses reads every fixed default of the key
// table back out of a parsed plan.
func TestFixedDefaultsAreWhatTheParserUses(t *testing.T) {
	p, err := Parse("x.toml", []byte(everyKind), Options{SkipFileChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range schema {
		if s.def == nil {
			continue
		}
		want := s.def
		if d, ok := want.(time.Duration); ok {
			want = formatDuration(d)
		}
		wantJSON, _ := json.Marshal(want)
		got, ok := lookupJSON(tree, jsonPathOf(s))
		if !ok {
			got = "" // an omitted empty string
		}
		gotJSON, _ := json.Marshal(got)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("%s: plan has %s at %v, the key table says %s", s.path, gotJSON, jsonPathOf(s), wantJSON)
		}
		checked++
	}
	if checked < 30 {
		t.Errorf("checked only %d fixed defaults", checked)
	}
}

// TestComputedDefaults checks the defaults that follow from other keys.
func TestComputedDefaults(t *testing.T) {
	tests := []struct {
		name      string
		keepalive time.Duration
		deadtime  time.Duration // 0: not written
		want      Timing
		watchdog  time.Duration
	}{
		{"the defaults", 500 * time.Millisecond, 0,
			Timing{Tick: 100 * time.Millisecond, Keepalive: 500 * time.Millisecond, Warntime: 1500 * time.Millisecond, Deadtime: 3 * time.Second, Initdead: 30 * time.Second, MonitorInterval: 10 * time.Second}, 2 * time.Second},
		{"a fast keepalive", 50 * time.Millisecond, 0,
			Timing{Tick: 50 * time.Millisecond, Keepalive: 50 * time.Millisecond, Warntime: 150 * time.Millisecond, Deadtime: 300 * time.Millisecond, Initdead: 30 * time.Second, MonitorInterval: 10 * time.Second}, time.Second},
		{"a slow keepalive", 20 * time.Second, 0,
			Timing{Tick: 100 * time.Millisecond, Keepalive: 20 * time.Second, Warntime: time.Minute, Deadtime: 2 * time.Minute, Initdead: 4 * time.Minute, MonitorInterval: 10 * time.Second}, 119 * time.Second},
		{"deadtime not whole seconds", time.Second, 2500 * time.Millisecond,
			Timing{Tick: 100 * time.Millisecond, Keepalive: time.Second, Warntime: 1250 * time.Millisecond, Deadtime: 2500 * time.Millisecond, Initdead: 30 * time.Second, MonitorInterval: 10 * time.Second}, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := minimal + fmt.Sprintf("[timing]\nkeepalive = %q\n", formatDuration(tc.keepalive))
			if tc.deadtime != 0 {
				text += fmt.Sprintf("deadtime = %q\n", formatDuration(tc.deadtime))
			}
			p, err := Parse("x.toml", []byte(text), Options{SkipFileChecks: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.Timing != tc.want {
				t.Errorf("timing %+v, want %+v", p.Timing, tc.want)
			}
			if p.Fencing.WatchdogTimeout != tc.watchdog {
				t.Errorf("watchdog-timeout %s, want %s", p.Fencing.WatchdogTimeout, tc.watchdog)
			}
			wantTicks := Ticks{
				Keepalive: int((tc.want.Keepalive + tc.want.Tick - 1) / tc.want.Tick),
				Warn:      int((tc.want.Warntime + tc.want.Tick - 1) / tc.want.Tick),
				Dead:      int((tc.want.Deadtime + tc.want.Tick - 1) / tc.want.Tick),
				Initdead:  int((tc.want.Initdead + tc.want.Tick - 1) / tc.want.Tick),
				Monitor:   int((tc.want.MonitorInterval + tc.want.Tick - 1) / tc.want.Tick),
				// an hour, the default flap window
				FlapWindow: int((time.Hour + tc.want.Tick - 1) / tc.want.Tick),
			}
			if p.Ticks != wantTicks {
				t.Errorf("ticks %+v, want %+v", p.Ticks, wantTicks)
			}
		})
	}
}

func TestResourceDefaults(t *testing.T) {
	p, err := Parse("x.toml", []byte("parallel = 5\n"+everyKind), Options{SkipFileChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	g := p.Groups[0]
	if g.Parallel != 5 {
		t.Errorf("group parallel %d, want the top-level 5", g.Parallel)
	}
	for i, r := range g.Resources {
		if r.Kind != kindOrder[i] {
			t.Fatalf("resource %d is %s, want %s", i, r.Kind, kindOrder[i])
		}
		for _, kt := range kindTimeouts {
			if kt.kind != r.Kind {
				continue
			}
			wantStop := kt.stop
			if r.Kind == KindXen {
				wantStop = r.Xen.ShutdownTimeout + xenStopMargin
			}
			if r.StartTimeout != kt.start || r.StopTimeout != wantStop {
				t.Errorf("%s: timeouts %s/%s, want %s/%s", r.Name, r.StartTimeout, r.StopTimeout, kt.start, wantStop)
			}
		}
	}
	if got := g.Resources[0].DRBD.Resource; got != "r0" {
		t.Errorf("drbd resource %q, want the resource's name", got)
	}
	if got := g.Resources[2].Xen.Domain; got != "web" {
		t.Errorf("xen domain %q, want the resource's name", got)
	}
	if db := g.Resources[6].Database; db.MaxLagBytes != pgDefaultMaxLagBytes || db.Database != pgDefaultDatabase ||
		db.Addresses["xen1"] != "10.0.1.11:5432" || db.Addresses["xen2"] != "10.0.1.12:5432" {
		t.Errorf("postgresql defaults: %+v", db)
	}
}

// TestKeysDocumentEveryKey checks that every key a plan can be written with
// is in Keys(), and that every entry is documented.
func TestKeysDocumentEveryKey(t *testing.T) {
	docs := map[string]KeyDoc{}
	for _, k := range Keys() {
		docs[k.Path] = k
		if k.Doc == "" || k.Type == "" {
			t.Errorf("%s: no doc or type", k.Path)
		}
		if k.Required && k.Example == "" && k.Type != string(typeTables) {
			t.Errorf("%s: required but no example", k.Path)
		}
		isTable := k.Type == string(typeTable) || k.Type == string(typeTables)
		if !k.Required && !isTable && k.Default == "" && k.Example == "" {
			t.Errorf("%s: optional but neither default nor example", k.Path)
		}
		if parent, _ := splitPath(k.Path); parent != "" {
			if _, ok := docs[parent]; !ok {
				t.Errorf("%s: parent %s is not documented before it", k.Path, parent)
			}
		}
	}
	sources := []string{everyKind}
	names, _ := filepath.Glob(filepath.Join(examplesDir, "*.toml"))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(data))
	}
	seen := 0
	for _, src := range sources {
		p, err := Parse("x.toml", []byte(src), Options{SkipFileChecks: true})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteTOML(&buf, p); err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		md, err := toml.Decode(buf.String(), &v)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range md.Keys() {
			path := strings.Join(key, ".")
			if parent, _ := splitPath(path); docs[parent].Type == string(typeStringMap) {
				continue // a name inside params or addresses
			}
			if _, ok := docs[path]; !ok {
				t.Errorf("key %s is written but not documented", path)
			}
			seen++
		}
	}
	if seen < 100 {
		t.Errorf("looked at only %d keys", seen)
	}
}

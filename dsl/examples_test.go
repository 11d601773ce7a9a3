package dsl

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const examplesDir = "../packaging/examples"

// loadExample copies an example into a temporary directory with its secret
// files (/etc/xhad/authkey, /etc/xhad/db.cred) created there with the right
// mode, the paths rewritten to them, and loads it with every check.
func loadExample(t *testing.T, name string) *Plan {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeSecret(t, dir+"/authkey", "0123456789abcdef0123456789abcdef", 0o600)
	writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
	text := strings.NewReplacer(`"/etc/xhad/authkey"`, `"`+dir+`/authkey"`, `"/etc/xhad/db.cred"`, `"`+dir+`/db.cred"`).Replace(string(data))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := Load(path)
	if err != nil {
		t.Fatalf("Load %s:\n%v", name, err)
	}
	return plan
}

func TestExamplesLoad(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(examplesDir, "*.toml"))
	if err != nil || len(names) < 4 {
		t.Fatalf("examples: %v %v", names, err)
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			loadExample(t, filepath.Base(name))
		})
	}
}

// stagesOf returns the start and stop stages of a plan's group.
func stagesOf(t *testing.T, p *Plan, group string) (start, stop [][]string) {
	t.Helper()
	for _, g := range p.Groups {
		if g.Name == group {
			return g.StartStages(), g.StopStages()
		}
	}
	t.Fatalf("no group %q", group)
	return nil, nil
}

func TestExamplesPlans(t *testing.T) {
	tests := []struct {
		file, group string
		start, stop [][]string
		preferred   string
	}{
		{
			file: "lvm-over-drbd.toml", group: "main", preferred: "xen1",
			start: [][]string{{"r0"}, {"vg0"}, {"web", "mail", "files", "build"}, {"service-ip"}},
			stop:  [][]string{{"service-ip"}, {"web", "mail", "files", "build"}, {"vg0"}, {"r0"}},
		},
		{
			file: "drbd-over-lvm.toml", group: "left", preferred: "xen-a",
			start: [][]string{{"web-disk", "mail-disk"}, {"web", "mail"}, {"left-ip"}},
			stop:  [][]string{{"left-ip"}, {"web", "mail"}, {"web-disk", "mail-disk"}},
		},
		{
			file: "drbd-over-lvm.toml", group: "right", preferred: "xen-b",
			start: [][]string{{"db-disk"}, {"files-disk"}, {"db"}, {"files"}, {"right-ip"}},
			stop:  [][]string{{"right-ip"}, {"files"}, {"db"}, {"files-disk"}, {"db-disk"}},
		},
		{
			file: "mariadb-both.toml", group: "db", preferred: "xen1",
			start: [][]string{{"db-vm"}, {"db-gate"}, {"db-ip"}},
			stop:  [][]string{{"db-ip"}, {"db-gate"}, {"db-vm"}},
		},
		{
			file: "postgresql-both.toml", group: "pg", preferred: "xen1",
			start: [][]string{{"pg-vm"}, {"pg-gate"}, {"pg-ip"}},
			stop:  [][]string{{"pg-ip"}, {"pg-gate"}, {"pg-vm"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.group, func(t *testing.T) {
			p := loadExample(t, tc.file)
			start, stop := stagesOf(t, p, tc.group)
			if !reflect.DeepEqual(start, tc.start) {
				t.Errorf("start stages %v, want %v", start, tc.start)
			}
			if !reflect.DeepEqual(stop, tc.stop) {
				t.Errorf("stop stages %v, want %v", stop, tc.stop)
			}
			for _, g := range p.Groups {
				if g.Name == tc.group && g.Preferred != tc.preferred {
					t.Errorf("preferred %q, want %q", g.Preferred, tc.preferred)
				}
			}
		})
	}
}

// TestExamplesDatabaseGates checks what the database examples promise.
func TestExamplesDatabaseGates(t *testing.T) {
	tests := []struct {
		file   string
		engine Engine
		check  func(d *DatabaseSpec) bool
	}{
		{"mariadb-both.toml", EngineMariaDB, func(d *DatabaseSpec) bool {
			return d.MaxLagSeconds.String() == "5s" && d.MaxLagBytes == 0 && d.Database == ""
		}},
		{"postgresql-both.toml", EnginePostgreSQL, func(d *DatabaseSpec) bool {
			return d.MaxLagBytes == 16<<20 && d.MaxLagSeconds == 0 && d.Database == "postgres"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p := loadExample(t, tc.file)
			var gates []Resource
			for _, r := range p.Groups[0].Resources {
				if r.Database != nil {
					gates = append(gates, r)
				}
				if r.Kind == KindXen && r.Exclusive() {
					t.Errorf("domain %s is exclusive; the example runs its database domains in mode both", r.Name)
				}
			}
			if len(gates) != 1 {
				t.Fatalf("%d database resources, want 1", len(gates))
			}
			d := gates[0].Database
			if d.Engine != tc.engine || len(d.Addresses) != 2 || !tc.check(d) {
				t.Errorf("gate %+v", d)
			}
			if p.Fencing.PeerFence {
				t.Errorf("peer fence on, but there is no DRBD to fence")
			}
		})
	}
}

// TestRoundTrip writes every example back as TOML and parses it again: the
// plan must not change.
func TestRoundTrip(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(examplesDir, "*.toml"))
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, name, data)
		})
	}
}

// checkRoundTrip parses data, writes the plan as TOML, parses that, and
// requires the same plan. It returns the first plan, or nil if data is
// invalid.
func checkRoundTrip(t *testing.T, name string, data []byte) *Plan {
	t.Helper()
	p1, err := Parse(name, data, Options{SkipFileChecks: true})
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	if err := WriteTOML(&buf, p1); err != nil {
		t.Fatalf("WriteTOML: %v", err)
	}
	p2, err := Parse(name, buf.Bytes(), Options{SkipFileChecks: true})
	if err != nil {
		t.Fatalf("the written plan does not parse:\n%v\n--- written:\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(p1, p2) {
		j1, _ := p1.MarshalJSON()
		j2, _ := p2.MarshalJSON()
		t.Fatalf("plan changed in the round trip\nfirst:  %s\nsecond: %s\n--- written:\n%s", j1, j2, buf.String())
	}
	return p1
}

package resources

import (
	"context"
	"testing"
	"time"

	"xhad/dsl"
	"xhad/internal/runner/runnertest"
)

var lvmSpec = dsl.Resource{Name: "storage", Kind: dsl.KindLVM, LVM: &dsl.LVMSpec{VolumeGroup: "vg0"},
	StartTimeout: 20 * time.Second, StopTimeout: 25 * time.Second}

const (
	vgsCmd        = "vgs --noheadings -o lv_name,lv_attr vg0"
	vgsAllActive  = "  web  -wi-ao----\n  db   -wi-a-----\n"
	vgsInactive   = "  web  -wi-------\n  db   -wi-------\n"
	vgsMixed      = "  web  -wi-ao----\n  db   -wi-------\n"
	vgsNotFound   = "  Volume group \"vg0\" not found\n  Cannot process volume group vg0"
	vgchangeInUse = "  Logical volume vg0/web in use.\n  Can't deactivate volume group \"vg0\" with 1 open logical volume(s)"
)

func TestLVMStart(t *testing.T) {
	tests := []struct {
		name  string
		rules []rule
		want  outcome
	}{
		{"activates", []rule{on("vgchange -ay vg0", ok("  2 logical volume(s) in volume group \"vg0\" now active\n"))}, outcome{}},
		{"vgchange fails", []rule{on("vgchange -ay vg0", fail(5, vgsNotFound))}, outcome{errHas: []string{"activate volume group vg0", "not found"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, lvmSpec, dsl.Tools{}, f)
			tt.want.check(t, res.Start(context.Background()), f.Calls())
			sameCalls(t, f.Calls(), []string{"vgchange -ay vg0"})
			checkTimeouts(t, f, lvmSpec.StartTimeout)
		})
	}
}

func TestLVMStop(t *testing.T) {
	tests := []struct {
		name  string
		rules []rule
		want  outcome
	}{
		{"deactivates and verifies", []rule{on("vgchange -an vg0"), on(vgsCmd, ok(vgsInactive))}, outcome{}},
		{"volume group not visible counts as stopped", []rule{on("vgchange -an vg0", fail(5, vgsNotFound)), on(vgsCmd, fail(5, vgsNotFound))}, outcome{}},
		{"an LV is in use", []rule{on("vgchange -an vg0", fail(5, vgchangeInUse)), on(vgsCmd, ok(vgsMixed))},
			outcome{errHas: []string{"in use", "1 of 2 logical volumes active (inactive: db)"}}},
		{"vgchange exits 0 but an LV is still active", []rule{on("vgchange -an vg0"), on(vgsCmd, ok(vgsAllActive))},
			outcome{errHas: []string{"exited 0", "running"}}},
		{"cannot verify", []rule{on("vgchange -an vg0"), on(vgsCmd, fail(5, "  /dev/drbd0: read failed"))},
			outcome{errHas: []string{"cannot verify", "read failed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, lvmSpec, dsl.Tools{}, f)
			tt.want.check(t, res.Stop(context.Background()), f.Calls())
			sameCalls(t, f.Calls(), []string{"vgchange -an vg0", vgsCmd})
			checkTimeouts(t, f, lvmSpec.StopTimeout)
		})
	}
}

func TestLVMProbe(t *testing.T) {
	tests := []struct {
		name   string
		answer runnertest.Answer
		want   Status
		errHas string
	}{
		{"all active", ok(vgsAllActive), Status{Running, "2 of 2 logical volumes active"}, ""},
		{"all inactive", ok(vgsInactive), Status{Stopped, "0 of 2 logical volumes active"}, ""},
		{"half active", ok(vgsMixed), Status{Failed, "1 of 2 logical volumes active (inactive: db)"}, ""},
		{"suspended LV", ok("  web  -wi-so----\n  db   -wi-a-----\n"), Status{Failed, "logical volumes in an abnormal state: web(s)"}, ""},
		{"thin pool and old six-letter attributes", ok("  pool twi-aotz--\n  old  -wi-a-\n"), Status{Running, "2 of 2 logical volumes active"}, ""},
		{"no logical volumes", ok(""), Status{Stopped, "no logical volumes"}, ""},
		{"volume group not found", fail(5, vgsNotFound), Status{Stopped, "volume group not found"}, ""},
		{"another volume group missing is an error", fail(5, "  Volume group \"vg00\" not found"), Status{}, "vg00"},
		{"odd line", ok("  web\n"), Status{}, `"  web"`},
		{"short attributes", ok("  web -wi\n"), Status{}, `"  web -wi"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tools := dsl.Tools{Vgs: "/sbin/vgs", Vgchange: "/sbin/vgchange"}
			f := newFake([]rule{on("/sbin/"+vgsCmd, tt.answer)})
			res := mustNew(t, lvmSpec, tools, f)
			st, err := res.Probe(context.Background())
			sameCalls(t, f.Calls(), []string{"/sbin/" + vgsCmd})
			if tt.errHas != "" {
				outcome{errHas: []string{tt.errHas}}.check(t, err, f.Calls())
				return
			}
			if err != nil || st != tt.want {
				t.Fatalf("Probe = %+v, %v; want %+v", st, err, tt.want)
			}
		})
	}
}

package resources

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xhad/dsl"
	"xhad/internal/runner/runnertest"
)

func TestLVMFilterWarnings(t *testing.T) {
	plan := &dsl.Plan{Tools: dsl.Tools{Drbdadm: "drbdadm"}, Groups: []dsl.Group{{Name: "main", Resources: []dsl.Resource{
		{Name: "r0", Kind: dsl.KindDRBD, DRBD: &dsl.DRBDSpec{Resource: "r0"}},
		{Name: "vg0", Kind: dsl.KindLVM, LVM: &dsl.LVMSpec{VolumeGroup: "vg0"}},
	}}}}
	cases := []struct {
		name, conf, want string
	}{
		{"no filter", "devices {\n  # filter = [ \"r|.*|\" ]\n}\n", "has no filter or global_filter"},
		{"accepts all", "devices {\n global_filter = [ \"a|.*|\" ]\n}\n", "accepts /dev/sdb1"},
		{"rejects backing device", "devices {\n global_filter = [ \"r|^/dev/sdb1$|\", \"a|.*|\" ]\n}\n", ""},
		{"reject after accept", "devices {\n filter = [ \"a|/dev/sd.*|\", \"r|.*|\" ]\n}\n", "accepts /dev/sdb1"},
		{"drbd only", "devices {\n global_filter = [ \"a|^/dev/drbd.*|\", \"r|.*|\" ]\n}\n", ""},
		{"global_filter wins over filter", "devices {\n filter = [ \"a|.*|\" ]\n global_filter = [ \"r|sdb|\" ]\n}\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "lvm.conf")
			if err := os.WriteFile(conf, []byte(c.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var f runnertest.Fake
			f.On("drbdadm sh-ll-dev r0", runnertest.Answer{Stdout: "/dev/sdb1\n"})
			got := strings.Join(LVMFilterWarnings(context.Background(), plan, &f, conf), "\n")
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("warnings %q, want %q", got, c.want)
			}
		})
	}
	t.Run("bad pattern", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "lvm.conf")
		_ = os.WriteFile(conf, []byte("global_filter = [ \"x|y|\" ]\n"), 0o644)
		got := LVMFilterWarnings(context.Background(), plan, &runnertest.Fake{}, conf)
		if len(got) != 1 || !strings.Contains(got[0], "is not a|regex| or r|regex|") {
			t.Fatalf("%q", got)
		}
	})
}

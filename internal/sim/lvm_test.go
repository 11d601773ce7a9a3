package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLVMOverDRBD(t *testing.T) {
	dir := t.TempDir()
	run := func(node, tool string, args ...string) (string, string, int) {
		return Exec(dir, node, tool, args...)
	}
	must := func(node, tool string, args ...string) string {
		t.Helper()
		out, errOut, code := run(node, tool, args...)
		if code != 0 {
			t.Fatalf("%s %s %v: exit %d: %s", node, tool, args, code, errOut)
		}
		return out
	}
	must("", "ctl", "init", "--nodes", "a,b", "--drbd", "r0:0:/dev/sdb1:7789")
	must("", "ctl", "add-vg", "vg0", "r0", "web,db")

	// Secondary: the PV cannot be opened, LVM does not see the VG.
	_, errOut, code := run("a", "vgchange", "-ay", "vg0")
	if code != 5 || errOut != "  Volume group \"vg0\" not found\n  Cannot process volume group vg0\n" {
		t.Fatalf("vgchange on a Secondary: exit %d %q", code, errOut)
	}
	must("a", "drbdadm", "primary", "r0")
	if out := must("a", "vgs", "--noheadings", "-o", "lv_name,lv_attr", "vg0"); out != "  web -wi-------\n  db -wi-------\n" {
		t.Fatalf("vgs inactive: %q", out)
	}
	must("a", "vgchange", "-ay", "vg0")
	if out := must("a", "vgs", "--noheadings", "-o", "lv_name,lv_attr", "vg0"); out != "  web -wi-a-----\n  db -wi-a-----\n" {
		t.Fatalf("vgs active: %q", out)
	}
	// An active VG holds the DRBD device open.
	if _, errOut, code := run("a", "drbdadm", "secondary", "r0"); code != 11 || !strings.Contains(errOut, "(-12) Device is held open by someone") {
		t.Fatalf("secondary under an active VG: exit %d %q", code, errOut)
	}
	// A running domain holds its LV open.
	cfg := filepath.Join(dir, "web.cfg")
	if err := os.WriteFile(cfg, []byte("name = \"web\"\nmemory = 128\ndisk = [ 'phy:/dev/vg0/web,xvda,w' ]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("a", "xl", "create", cfg)
	_, errOut, code = run("a", "vgchange", "-an", "vg0")
	if code != 5 || !strings.Contains(errOut, "Logical volume vg0/web in use.") {
		t.Fatalf("vgchange -an under a running domain: exit %d %q", code, errOut)
	}
	must("a", "xl", "destroy", "web")
	must("a", "vgchange", "-an", "vg0")
	must("a", "drbdadm", "secondary", "r0")
	// The checker sees a VG active on both nodes.
	events := []Event{
		{Seq: 1, Node: "a", Kind: kindVGActivate, Attrs: []Attr{{Key: "vg", Value: "vg0"}}},
		{Seq: 2, Node: "b", Kind: kindVGActivate, Attrs: []Attr{{Key: "vg", Value: "vg0"}}},
	}
	if err := CheckInvariants(events, nil); err == nil || !strings.Contains(err.Error(), "volume group vg0 active on both") {
		t.Fatalf("checker: %v", err)
	}
	journal, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckInvariants(journal, nil); err != nil {
		t.Fatal(err)
	}
}

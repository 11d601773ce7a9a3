package sim

import (
	"fmt"
	"slices"
	"strings"
)

// VG is a simulated LVM volume group that lives on a DRBD resource ("LVM over
// DRBD"): it can be activated only on the node where the DRBD device is
// Primary, and its active logical volumes hold that device open, as the real
// device mapper does.
type VG struct {
	Name   string          `json:"name"`
	DRBD   string          `json:"drbd"` // DRBD resource holding the PV
	LVs    []string        `json:"lvs"`
	Active map[string]bool `json:"active"` // node -> active
}

const (
	kindVGActivate   = "vg-activate"
	kindVGDeactivate = "vg-deactivate"
)

func (st *State) vg(name string) *VG {
	for _, v := range st.VGs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// visible: LVM sees the VG on node when its PV can be opened there, that is
// when the DRBD device is Primary on node (DRBD 9 refuses opens of a
// Secondary).
func (t *txn) vgVisible(node string, v *VG) bool {
	for _, r := range t.st.Resources {
		if r.Name == v.DRBD {
			rn := r.Nodes[node]
			return rn != nil && rn.Up && rn.Role == "Primary"
		}
	}
	return false
}

// vgUsers are the running domains of node with a disk on an LV of v.
func (t *txn) vgUsers(node string, v *VG) []string {
	var out []string
	for _, d := range t.st.Hosts[node].Domains {
		for _, disk := range d.Disks {
			for _, lv := range v.LVs {
				if disk.Target == "/dev/"+v.Name+"/"+lv || disk.Target == "/dev/mapper/"+v.Name+"-"+lv {
					out = append(out, v.Name+"/"+lv)
				}
			}
		}
	}
	return out
}

// vgHolds reports whether an active VG keeps DRBD resource r open on node.
func (t *txn) vgHolds(node string, r *Resource) bool {
	for _, v := range t.st.VGs {
		if v.DRBD == r.Name && v.Active[node] {
			return true
		}
	}
	return false
}

// ctlAddVG: add-vg NAME DRBDRES LV[,LV...]
func (c *call) ctlAddVG(args []string) error {
	if len(args) != 3 {
		return usagef("want NAME DRBD-RESOURCE LV[,LV...]")
	}
	return c.transact(func(t *txn) error {
		if t.st.vg(args[0]) != nil {
			return fmt.Errorf("volume group %s exists already", args[0])
		}
		found := false
		for _, r := range t.st.Resources {
			found = found || r.Name == args[1]
		}
		if !found {
			return fmt.Errorf("no DRBD resource %q for volume group %s", args[1], args[0])
		}
		t.st.VGs = append(t.st.VGs, &VG{Name: args[0], DRBD: args[1], LVs: strings.Split(args[2], ","), Active: map[string]bool{}})
		t.dirty = true
		return nil
	})
}

// vgchange simulates `vgchange -ay|-an VG`.
func (c *call) vgchange(args []string) int {
	if len(args) != 2 || (args[0] != "-ay" && args[0] != "-an" && args[0] != "-a y" && args[0] != "-a n") {
		fmt.Fprintln(c.stderr, "  xhad sim vgchange: only `vgchange -ay VG` and `vgchange -an VG` are simulated")
		return 3
	}
	activate, name := args[0] == "-ay", args[1]
	code := 0
	err := c.transact(func(t *txn) error {
		v := t.st.vg(name)
		if v == nil || !t.vgVisible(c.node, v) && !v.Active[c.node] {
			fmt.Fprintf(c.stderr, "  Volume group \"%s\" not found\n  Cannot process volume group %s\n", name, name)
			code = 5
			return nil
		}
		if activate {
			if !v.Active[c.node] {
				v.Active[c.node] = true
				t.journal(c.node, kindVGActivate, "vg", name)
			}
			fmt.Fprintf(c.stdout, "  %d logical volume(s) in volume group \"%s\" now active\n", len(v.LVs), name)
			return nil
		}
		if users := t.vgUsers(c.node, v); len(users) > 0 {
			slices.Sort(users)
			users = slices.Compact(users)
			for _, u := range users {
				fmt.Fprintf(c.stderr, "  Logical volume %s in use.\n", u)
			}
			fmt.Fprintf(c.stderr, "  Can't deactivate volume group \"%s\" with %d open logical volume(s)\n", name, len(users))
			code = 5
			return nil
		}
		if v.Active[c.node] {
			v.Active[c.node] = false
			t.journal(c.node, kindVGDeactivate, "vg", name)
		}
		fmt.Fprintf(c.stdout, "  0 logical volume(s) in volume group \"%s\" now active\n", name)
		return nil
	})
	if err != nil {
		return c.simFailed("vgchange", err)
	}
	return code
}

// vgs simulates `vgs --noheadings -o lv_name,lv_attr VG` (one row per LV).
func (c *call) vgs(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(c.stderr, "  xhad sim vgs: name the volume group")
		return 3
	}
	name := args[len(args)-1]
	code := 0
	err := c.transact(func(t *txn) error {
		v := t.st.vg(name)
		if v == nil || !t.vgVisible(c.node, v) && !v.Active[c.node] {
			fmt.Fprintf(c.stderr, "  Volume group \"%s\" not found\n  Cannot process volume group %s\n", name, name)
			code = 5
			return nil
		}
		for _, lv := range v.LVs {
			attr := "-wi-------"
			if v.Active[c.node] {
				attr = "-wi-a-----"
			}
			fmt.Fprintf(c.stdout, "  %s %s\n", lv, attr)
		}
		return nil
	})
	if err != nil {
		return c.simFailed("vgs", err)
	}
	return code
}

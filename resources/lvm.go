package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"xhad/internal/runner"
)

// LVM activates and deactivates one volume group with vgchange.
//
// Probe runs `vgs --noheadings -o lv_name,lv_attr VG`. A VG has no
// "active" attribute of its own (vg_attr is permissions, resizeable,
// exported, partial, allocation policy, clustered), so activation is read
// per logical volume: asking vgs for LV fields makes it report one row per
// LV of the named VG (the same report as lvs, through the vgs tool the
// config names). The fifth lv_attr letter is the state: 'a' active, '-'
// inactive, anything else (suspended, invalid snapshot, device present
// without tables, …) abnormal. All active is Running, all inactive Stopped,
// a mix or an abnormal LV Failed. A VG without LVs is Stopped (there is
// nothing to activate), and a VG that vgs cannot find ("Volume group "VG"
// not found", typical on the node whose DRBD is Secondary) is Stopped too.
//
// Start trusts vgchange -ay's exit status; Stop runs vgchange -an and then
// verifies with the probe.
type LVM struct {
	base
	vgchange string
	vgs      string
}

func (l *LVM) vg() string { return l.spec.LVM.VolumeGroup }

// Start activates the volume group.
func (l *LVM) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.startTimeout())
	defer cancel()
	if _, err := l.exec(ctx, l.vgchange, "-ay", l.vg()); err != nil {
		return fmt.Errorf("start lvm %s: activate volume group %s: %w", l.Name(), l.vg(), err)
	}
	return nil
}

// Stop deactivates the volume group and verifies that no LV is left active.
func (l *LVM) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.stopTimeout())
	defer cancel()
	what := fmt.Sprintf("stop lvm %s: deactivate volume group %s", l.Name(), l.vg())
	_, chErr := l.exec(ctx, l.vgchange, "-an", l.vg())
	if ctxDone(ctx) != nil {
		return fmt.Errorf("%s: %w", what, chErr)
	}
	st, err := l.probe(ctx)
	switch {
	case err != nil && chErr != nil:
		return fmt.Errorf("%s: %w; and the result cannot be verified: %w", what, chErr, err)
	case err != nil:
		return fmt.Errorf("%s: cannot verify: %w", what, err)
	case st.State == Stopped:
		return nil
	case chErr != nil:
		return fmt.Errorf("%s: %w (now %s)", what, chErr, st.Detail)
	}
	return fmt.Errorf("%s: vgchange -an exited 0 but the volume group is %s: %s", what, st.State, st.Detail)
}

// Probe reports the activation of the volume group's logical volumes.
func (l *LVM) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	st, err := l.probe(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("probe lvm %s: %w", l.Name(), err)
	}
	return st, nil
}

func (l *LVM) probe(ctx context.Context) (Status, error) {
	res, err := l.exec(ctx, l.vgs, "--noheadings", "-o", "lv_name,lv_attr", l.vg())
	if err != nil {
		var ee *runner.ExitError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, fmt.Sprintf("Volume group %q not found", l.vg())) {
			return Status{State: Stopped, Detail: "volume group not found"}, nil
		}
		return Status{}, err
	}
	lvs, err := parseLVAttrs(string(res.Stdout))
	if err != nil {
		return Status{}, fmt.Errorf("vgs %s: %w", l.vg(), err)
	}
	return lvmStatusOf(lvs), nil
}

type lvState struct {
	name  string
	state byte // fifth lv_attr letter
}

// parseLVAttrs reads "  NAME ATTR" rows; anything else is an error that
// quotes the line.
func parseLVAttrs(out string) ([]lvState, error) {
	var lvs []lvState
	for line := range strings.SplitSeq(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 || len(fields[1]) < 5 {
			return nil, fmt.Errorf("unexpected line %q (want LV name and attributes)", line)
		}
		lvs = append(lvs, lvState{name: fields[0], state: fields[1][4]})
	}
	return lvs, nil
}

func lvmStatusOf(lvs []lvState) Status {
	if len(lvs) == 0 {
		return Status{State: Stopped, Detail: "no logical volumes"}
	}
	var active, inactive, abnormal []string
	for _, lv := range lvs {
		switch lv.state {
		case 'a':
			active = append(active, lv.name)
		case '-':
			inactive = append(inactive, lv.name)
		default:
			abnormal = append(abnormal, fmt.Sprintf("%s(%c)", lv.name, lv.state))
		}
	}
	switch {
	case len(abnormal) > 0:
		return Status{State: Failed, Detail: fmt.Sprintf("logical volumes in an abnormal state: %s", strings.Join(abnormal, ", "))}
	case len(inactive) == 0:
		return Status{State: Running, Detail: fmt.Sprintf("%d of %d logical volumes active", len(active), len(lvs))}
	case len(active) == 0:
		return Status{State: Stopped, Detail: fmt.Sprintf("0 of %d logical volumes active", len(lvs))}
	}
	return Status{State: Failed, Detail: fmt.Sprintf("%d of %d logical volumes active (inactive: %s)",
		len(active), len(lvs), strings.Join(inactive, ", "))}
}

package resources

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"xhad/internal/runner"
)

// DRBD promotes and demotes one DRBD resource with drbdadm.
//
// Start runs `drbdadm status RES` (already Primary: done; a resync towards
// this node or a Primary peer: refused), then `drbdadm dstate RES` (refused
// unless every local volume is UpToDate), then `drbdadm primary RES`, whose
// refusals become *Refusal, and finally checks `drbdadm role RES`.
// Stop runs `drbdadm secondary RES` and then verifies with `drbdadm role RES`,
// because drbdsetup secondary exits 0 even when the module cannot be loaded.
// Probe parses `drbdadm status RES` (DRBD 9 only).
type DRBD struct {
	base
	drbdadm string
}

// kernel state-change codes (drbd_strings.c) that mean "not safe", with the
// reason a log line should give.
var drbdRefusalReasons = map[int]string{
	-1:  "peer is Primary",
	-2:  "no access to UpToDate data",
	-7:  "peer not outdated, fencing failed",
	-10: "state change was refused by the peer",
	-16: "local disk state is lower than Outdated",
	-25: "no quorum",
}

// descriptions of the other kernel codes, for operational errors.
var drbdFailureHints = map[int]string{
	-6:  "refusing to be Outdated while Connected",
	-12: "device is held open (a domain or mount still uses it)",
	-18: "in a transient state, retry after the next state change",
	-19: "concurrent state changes detected and aborted",
	-23: "timeout in the kernel",
	127: "device minor not allocated: the resource is not up",
	158: "unknown resource: the resource is not up (drbdadm up?)",
}

var drbdKernelMessage = regexp.MustCompile(`(?m)^\S+: (?:State change failed|Failure): \((-?\d+)\) (.*)$`)

// drbdKernelCode finds the kernel's state-change or configuration error code in
// a drbdadm error, reporting false when there is none.
func drbdKernelCode(err error) (int, bool) {
	var ee *runner.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	m := drbdKernelMessage.FindStringSubmatch(ee.Stderr + "\n" + ee.Stdout)
	if m == nil {
		return 0, false
	}
	code, convErr := strconv.Atoi(m[1])
	return code, convErr == nil
}

// explainDRBD turns a failed drbdadm call into an operational error with a
// hint taken from the exit code or the kernel's message.
func explainDRBD(what string, err error) error {
	if code, ok := drbdKernelCode(err); ok {
		if hint, ok := drbdFailureHints[code]; ok {
			return fmt.Errorf("%s: %s: %w", what, hint, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	switch runner.ExitCode(err) {
	case 10:
		return fmt.Errorf("%s: resource not configured in the kernel (not up): %w", what, err)
	case 20:
		return fmt.Errorf("%s: DRBD kernel module or netlink not available: %w", what, err)
	case 1:
		return fmt.Errorf("%s: drbdadm configuration error: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (d *DRBD) res() string { return d.spec.DRBD.Resource }

// Start promotes the resource when that is safe; see the type's comment.
func (d *DRBD) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.startTimeout())
	defer cancel()
	what := fmt.Sprintf("start drbd %s (%s)", d.Name(), d.res())

	st, err := d.status(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if st.Role == "Primary" {
		return nil
	}
	for _, c := range st.Connections {
		for _, pd := range c.Devices {
			if syncTargetStates[pd.Replication] {
				reason := fmt.Sprintf("local disk is %s of peer %s", pd.Replication, c.Peer)
				if pd.HasDone {
					reason += fmt.Sprintf(" (%.2f%% done)", pd.Done)
				}
				return d.refuse("start", reason, nil)
			}
		}
	}
	for _, c := range st.Connections {
		if c.Role == "Primary" {
			return d.refuse("start", fmt.Sprintf("peer %s is Primary", c.Peer), nil)
		}
	}

	res, err := d.exec(ctx, d.drbdadm, "dstate", d.res())
	if err != nil {
		return explainDRBD(what, err)
	}
	disks, err := parseDState(string(res.Stdout))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for vol, disk := range disks {
		if disk != "UpToDate" {
			reason := fmt.Sprintf("local disk is %s", disk)
			if len(disks) > 1 {
				reason = fmt.Sprintf("local disk of volume %d is %s", vol, disk)
			}
			return d.refuse("start", reason, nil)
		}
	}

	if _, err := d.exec(ctx, d.drbdadm, "primary", d.res()); err != nil {
		if code, ok := drbdKernelCode(err); ok {
			if reason, ok := drbdRefusalReasons[code]; ok {
				return d.refuse("start", reason, err)
			}
		}
		if runner.ExitCode(err) == 17 { // -2 without a readable message
			return d.refuse("start", drbdRefusalReasons[-2], err)
		}
		return explainDRBD(what, err)
	}
	role, err := d.role(ctx)
	if err != nil {
		return fmt.Errorf("%s: verify after drbdadm primary: %w", what, err)
	}
	if role != "Primary" {
		return fmt.Errorf("%s: drbdadm primary succeeded but the role is %s", what, role)
	}
	return nil
}

// replication states in which this node is (about to be) a resync target.
var syncTargetStates = map[string]bool{
	"SyncTarget": true, "PausedSyncT": true, "StartingSyncT": true, "WFBitMapT": true, "WFSyncUUID": true,
}

// Stop demotes the resource and verifies the demotion with `drbdadm role`.
// A resource that is not up at all (role exits 10) counts as stopped.
func (d *DRBD) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.stopTimeout())
	defer cancel()
	what := fmt.Sprintf("stop drbd %s (%s)", d.Name(), d.res())

	_, secErr := d.exec(ctx, d.drbdadm, "secondary", d.res())
	if ctxDone(ctx) != nil {
		return fmt.Errorf("%s: %w", what, secErr)
	}
	role, err := d.role(ctx)
	if err != nil {
		if runner.ExitCode(err) == 10 {
			return nil // no such resource in the kernel: it cannot be Primary
		}
		if secErr != nil {
			return fmt.Errorf("%s: %w; and the role cannot be verified: %w", what, explainDRBD("drbdadm secondary", secErr), err)
		}
		return fmt.Errorf("%s: cannot verify the demotion: %w", what, explainDRBD("drbdadm role", err))
	}
	if role == "Secondary" {
		return nil
	}
	if secErr != nil {
		return explainDRBD(what, secErr)
	}
	return fmt.Errorf("%s: drbdadm secondary exited 0 but the role is still %s", what, role)
}

// Probe reads `drbdadm status RES`: Primary is Running, Secondary is Stopped,
// a resource that is not up is Stopped, and a Primary without any access to
// UpToDate data is Failed.
func (d *DRBD) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	st, err := d.status(ctx)
	if err != nil {
		if runner.ExitCode(err) == 10 {
			return Status{State: Stopped, Detail: "resource is not up"}, nil
		}
		return Status{}, fmt.Errorf("probe drbd %s (%s): %w", d.Name(), d.res(), err)
	}
	return drbdStatusOf(st), nil
}

func (d *DRBD) status(ctx context.Context) (DRBDStatus, error) {
	if st, ok, err := d.procStatus(ctx); ok {
		return st, err
	}
	res, err := d.exec(ctx, d.drbdadm, "status", d.res())
	if err != nil {
		return DRBDStatus{}, explainDRBD("drbdadm status", err)
	}
	st, err := ParseDRBDStatus(string(res.Stdout))
	if err != nil {
		return st, err
	}
	if st.Resource != d.res() {
		return st, fmt.Errorf("drbdadm status %s printed resource %q", d.res(), st.Resource)
	}
	return st, nil
}

// role returns the local role; DRBD 8.4's "Primary/Secondary" gives "Primary".
func (d *DRBD) role(ctx context.Context) (string, error) {
	res, err := d.exec(ctx, d.drbdadm, "role", d.res())
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(firstLine(string(res.Stdout)))
	role, _, _ := strings.Cut(line, "/")
	switch role {
	case "Primary", "Secondary", "Unknown":
		return role, nil
	}
	return "", fmt.Errorf("drbdadm role %s: unexpected output %q", d.res(), line)
}

var drbdDiskStates = map[string]bool{
	"Diskless": true, "Attaching": true, "Detaching": true, "Failed": true, "Negotiating": true,
	"Inconsistent": true, "Outdated": true, "DUnknown": true, "Consistent": true, "UpToDate": true,
	"Unconfigured": true,
}

// parseDState reads `drbdadm dstate` (one "local/peer…" line per volume) and
// returns the local disk state of each volume.
func parseDState(out string) ([]string, error) {
	var disks []string
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		local, _, _ := strings.Cut(line, "/")
		if !drbdDiskStates[local] {
			return nil, fmt.Errorf("drbdadm dstate: unexpected line %q", line)
		}
		disks = append(disks, local)
	}
	if len(disks) == 0 {
		return nil, fmt.Errorf("drbdadm dstate: no output")
	}
	return disks, nil
}

func drbdStatusOf(st DRBDStatus) Status {
	var parts []string
	parts = append(parts, st.Role)
	for _, dev := range st.Devices {
		disks := []string{dev.Disk}
		for _, c := range st.Connections {
			peerDisk := "DUnknown"
			for _, pd := range c.Devices {
				if pd.Volume == dev.Volume {
					peerDisk = pd.PeerDisk
				}
			}
			disks = append(disks, peerDisk)
		}
		parts = append(parts, strings.Join(disks, "/"))
	}
	for _, c := range st.Connections {
		conn := c.Connection
		if len(st.Connections) > 1 {
			conn = c.Peer + ":" + conn
		}
		parts = append(parts, conn)
		for _, pd := range c.Devices {
			if pd.Replication != "Established" {
				s := pd.Replication
				if pd.HasDone {
					s += fmt.Sprintf(" %.2f%%", pd.Done)
				}
				parts = append(parts, s)
			}
		}
	}
	if len(st.Connections) == 0 {
		parts = append(parts, "no peers")
	}
	if len(st.Suspended) > 0 {
		parts = append(parts, "suspended:"+strings.Join(st.Suspended, ","))
	}
	detail := strings.Join(parts, " ")

	switch st.Role {
	case "Primary":
		if !drbdHasUpToDateData(st) {
			return Status{State: Failed, Detail: detail + " (no access to UpToDate data)"}
		}
		return Status{State: Running, Detail: detail}
	case "Secondary":
		return Status{State: Stopped, Detail: detail}
	}
	return Status{State: Unknown, Detail: detail}
}

// drbdHasUpToDateData reports whether every volume has UpToDate data locally
// or on a connected peer.
func drbdHasUpToDateData(st DRBDStatus) bool {
	for _, dev := range st.Devices {
		if dev.Disk == "UpToDate" {
			continue
		}
		found := false
		for _, c := range st.Connections {
			for _, pd := range c.Devices {
				if pd.Volume == dev.Volume && pd.PeerDisk == "UpToDate" && c.Connection == "Connected" {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.TrimSpace(line) != "" {
			return line
		}
	}
	return ""
}

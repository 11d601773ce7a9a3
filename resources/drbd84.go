package resources

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcDRBDPath is where DRBD 8.4 reports its devices. DRBD 9 has no device
// lines there, and `drbdadm status` is the source.
var ProcDRBDPath = "/proc/drbd"

// procStatus builds the resource's status from DRBD 8.4's /proc/drbd when
// the kernel module is 8.x: the device line of the resource's minor (from
// `drbdadm sh-minor RES`) mapped to the DRBD 9 shape the rest of the adapter
// reads. ok is false when /proc/drbd is not an 8.x one.
func (d *DRBD) procStatus(ctx context.Context) (DRBDStatus, bool, error) {
	data, err := os.ReadFile(ProcDRBDPath)
	if err != nil || !strings.HasPrefix(string(data), "version: 8.") {
		return DRBDStatus{}, false, nil
	}
	res, err := d.exec(ctx, d.drbdadm, "sh-minor", d.res())
	if err != nil {
		return DRBDStatus{}, true, explainDRBD("drbdadm sh-minor", err)
	}
	minor, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		return DRBDStatus{}, true, fmt.Errorf("drbdadm sh-minor %s printed %q, not a minor number", d.res(), strings.TrimSpace(string(res.Stdout)))
	}
	devs, err := ParseProcDRBD(string(data))
	if err != nil {
		return DRBDStatus{}, true, fmt.Errorf("%s: %w", ProcDRBDPath, err)
	}
	for _, dev := range devs {
		if dev.Minor == minor {
			return statusFromProc(d.res(), dev), true, nil
		}
	}
	return DRBDStatus{}, true, fmt.Errorf("%s has no device %d for resource %s: is it up? (drbdadm up %s)", ProcDRBDPath, minor, d.res(), d.res())
}

// statusFromProc maps an 8.4 device line: cs carries either the connection
// state or, once connected, the replication state.
func statusFromProc(name string, dev ProcDevice) DRBDStatus {
	st := DRBDStatus{Resource: name, Role: dev.Role, Devices: []DRBDDevice{{Disk: dev.Disk}}}
	if dev.IOSuspended {
		st.Suspended = []string{"io"}
	}
	conn := DRBDConnection{Peer: "peer", Connection: dev.Connection}
	replicating := map[string]bool{"Connected": true, "StartingSyncS": true, "StartingSyncT": true, "WFBitMapS": true, "WFBitMapT": true,
		"WFSyncUUID": true, "SyncSource": true, "SyncTarget": true, "VerifyS": true, "VerifyT": true, "PausedSyncS": true, "PausedSyncT": true, "Ahead": true, "Behind": true}
	if replicating[dev.Connection] {
		conn.Connection, conn.Role = "Connected", dev.PeerRole
		pd := DRBDPeerDevice{Replication: "Established", PeerDisk: dev.PeerDisk}
		if dev.Connection != "Connected" {
			pd.Replication = dev.Connection
		}
		if dev.Sync != nil {
			pd.Done, pd.HasDone = dev.Sync.Percent, true
		}
		conn.Devices = []DRBDPeerDevice{pd}
	}
	st.Connections = []DRBDConnection{conn}
	return st
}

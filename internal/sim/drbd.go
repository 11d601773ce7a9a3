package sim

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// This file is the simulated DRBD kernel: connection, handshake, resync and
// what happens when a connection is lost.

// device is the DRBD device path of a resource.
func (r *Resource) device() string { return fmt.Sprintf("/dev/drbd%d", r.Minor) }

// resourceOfDevice returns the DRBD resource an xl disk uses, or nil.
func (t *txn) resourceOfDevice(d Disk) *Resource {
	for _, r := range t.st.Resources {
		switch {
		case d.Target == r.device(),
			d.Target == "/dev/drbd/by-res/"+r.Name,
			d.Target == "/dev/drbd/by-res/"+r.Name+"/0",
			d.Script == "block-drbd" && d.Target == r.Name:
			return r
		}
	}
	return nil
}

// openers are the domains of node that hold the resource's device open.
func (t *txn) openers(node string, r *Resource) []*Domain {
	var out []*Domain
	for _, d := range t.st.Hosts[node].Domains {
		for _, disk := range d.Disks {
			if t.resourceOfDevice(disk) == r {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// reachable tells whether the two sides of r can be connected right now.
func (t *txn) reachable(r *Resource) bool {
	for _, node := range t.st.Nodes {
		rn := r.Nodes[node]
		if !rn.Up || !rn.WantConnect || t.st.Hosts[node].Down {
			return false
		}
	}
	return !r.LinkCut
}

// lossCause says why a connection went away.
type lossCause struct {
	graceful bool   // a node disconnected or went down on purpose
	by       string // that node, or the crashed host
	why      string
}

// updateConnection establishes or drops r's connection to match what is
// reachable, with the side effects of the edge.
func (t *txn) updateConnection(r *Resource, cause lossCause) {
	want := t.reachable(r)
	switch {
	case want && !r.Connected:
		t.handshake(r)
	case !want && r.Connected:
		t.connectionLost(r, cause)
	}
}

func isKnownOutdated(disk string) bool {
	return disk == diskOutdated || disk == diskInconsistent || disk == diskDiskless
}

// handshake is what DRBD does when the two sides meet: detect a split brain,
// or pick a sync source and target, or just connect.
func (t *txn) handshake(r *Resource) {
	a, b := t.st.Nodes[0], t.st.Nodes[1]
	na, nb := r.Nodes[a], r.Nodes[b]
	source, target, splitBrain := "", "", ""
	switch {
	case na.Role == rolePrimary && nb.Role == rolePrimary:
		splitBrain = "both Primary"
	case na.DiscardMyData != nb.DiscardMyData:
		discarding, keeping := a, b
		if nb.DiscardMyData {
			discarding, keeping = b, a
		}
		if r.Nodes[discarding].Role == rolePrimary {
			splitBrain = "the node told to discard its data is Primary"
		} else {
			source, target = keeping, discarding
		}
	case na.Diverged && nb.Diverged:
		splitBrain = "both nodes were Primary while disconnected"
	case na.Diverged:
		source, target = a, b
	case nb.Diverged:
		source, target = b, a
	case na.Disk == diskUpToDate && nb.Disk != diskUpToDate:
		source, target = a, b
	case nb.Disk == diskUpToDate && na.Disk != diskUpToDate:
		source, target = b, a
	}
	if target != "" && r.Nodes[target].Role == rolePrimary {
		splitBrain = "the sync target " + target + " is Primary"
	}
	if splitBrain != "" {
		na.WantConnect, nb.WantConnect = false, false
		t.journal("", kindSplitBrain, "res", r.Name, "why", splitBrain)
		return
	}
	r.Connected = true
	r.ConnEpoch++
	t.journal("", kindConnect, "res", r.Name)
	for _, node := range t.st.Nodes {
		rn := r.Nodes[node]
		rn.Diverged, rn.DiscardMyData = false, false
		rn.PeerDisk = diskDUnknown
		if rn.SuspendedFencing {
			rn.SuspendedFencing = false
			t.journal(node, kindIOResumed, "res", r.Name, "why", "connection-returned")
		}
	}
	if source == "" || r.Nodes[target].Disk == diskDiskless || r.Nodes[source].Disk == diskDiskless {
		return
	}
	r.Sync = &Resync{Source: source, Target: target, Start: t.now, Duration: t.st.Settings.ResyncTime, TotalKB: t.st.Settings.ResyncKB}
	t.setDisk(target, r, diskInconsistent, "sync-target")
	t.journal("", kindSyncStart, "res", r.Name, "source", source, "target", target)
	if r.Sync.Duration <= 0 {
		t.finishSync(r)
	}
}

// finishSync ends a resync: the target's disk is UpToDate.
func (t *txn) finishSync(r *Resource) {
	s := r.Sync
	r.Sync = nil
	t.setDisk(s.Target, r, diskUpToDate, "sync-done")
	t.journal("", kindSyncDone, "res", r.Name, "source", s.Source, "target", s.Target)
}

// connectionLost handles the end of a connection. A graceful disconnect with
// fencing outdates the Secondary (DRBD's two-phase disconnect); a lost link
// or a crashed peer makes every Primary with fencing run its fence-peer
// handler, as the kernel does, after the lock is released.
func (t *txn) connectionLost(r *Resource, cause lossCause) {
	r.Connected = false
	r.ConnEpoch++
	if r.Sync != nil {
		t.journal("", kindSyncAborted, "res", r.Name, "source", r.Sync.Source, "target", r.Sync.Target)
		r.Sync = nil
	}
	t.journal("", kindDisconnect, "res", r.Name, "why", cause.why, "by", cause.by)
	for _, node := range t.st.Nodes {
		rn := r.Nodes[node]
		rn.PeerDisk = diskDUnknown
		if rn.Role == rolePrimary {
			rn.Diverged = true
		}
	}
	if r.Fencing == fencingDontCare {
		return
	}
	if cause.graceful {
		for _, primary := range t.st.Nodes {
			secondary := t.st.peerOf(primary)
			p, s := r.Nodes[primary], r.Nodes[secondary]
			if p.Role != rolePrimary || s.Role == rolePrimary {
				continue
			}
			if s.Disk == diskUpToDate || s.Disk == diskConsistent {
				t.setDisk(secondary, r, diskOutdated, "graceful-disconnect-from-primary")
			}
			if isKnownOutdated(s.Disk) {
				p.PeerDisk = s.Disk
			}
		}
		return
	}
	for _, node := range t.st.Nodes {
		rn := r.Nodes[node]
		if !rn.Up || rn.Role != rolePrimary || (rn.Disk != diskUpToDate && rn.Disk != diskConsistent) {
			continue
		}
		if r.Fencing == fencingStonith {
			rn.SuspendedFencing = true
			t.journal(node, kindIOSuspended, "res", r.Name, "why", "fencing")
		}
		t.fences = append(t.fences, t.newFenceJob(node, r, "connection-lost"))
	}
}

// setDisk changes a node's disk state and journals it.
func (t *txn) setDisk(node string, r *Resource, disk, why string) {
	rn := r.Nodes[node]
	if rn.Disk == disk {
		return
	}
	rn.Disk = disk
	t.journal(node, kindDRBDDisk, "res", r.Name, "disk", disk, "why", why)
}

// setRole changes a node's role and journals it.
func (t *txn) setRole(node string, r *Resource, role, why string, kv ...string) {
	rn := r.Nodes[node]
	if rn.Role == role {
		return
	}
	rn.Role = role
	kind := kindDRBDSecondary
	if role == rolePrimary {
		kind = kindDRBDPrimary
	}
	t.journal(node, kind, append([]string{"res", r.Name, "why", why}, kv...)...)
}

// bringUp is `drbdadm up` (and a host boot): attach, Secondary, connect.
func (t *txn) bringUp(node string, r *Resource, why string) {
	rn := r.Nodes[node]
	rn.Up, rn.Role, rn.WantConnect = true, roleSecondary, true
	rn.PeerDisk, rn.SuspendedFencing, rn.FailIO, rn.DiscardMyData = diskDUnknown, false, false, false
	t.journal(node, kindDRBDUp, "res", r.Name, "disk", rn.Disk, "why", why)
	t.updateConnection(r, lossCause{})
}

// bringDown is `drbdadm down` once the demotion is allowed; graceful tells
// whether the peer is told (false for a host crash).
func (t *txn) bringDown(node string, r *Resource, graceful bool, why string) {
	rn := r.Nodes[node]
	t.setRole(node, r, roleSecondary, why)
	rn.Up, rn.WantConnect = false, false
	t.updateConnection(r, lossCause{graceful: graceful, by: node, why: why})
	rn.SuspendedFencing, rn.FailIO, rn.DiscardMyData = false, false, false
	rn.PeerDisk = diskDUnknown
	t.journal(node, kindDRBDDown, "res", r.Name, "why", why)
}

// view is one node's picture of a resource, as drbdsetup reports it.
type view struct {
	up               bool
	role, peerRole   string
	disk, peerDisk   string
	cstate           string // Connected, Connecting, StandAlone
	repl             string // Off, Established, SyncSource, SyncTarget
	suspendedFencing bool
	failIO           bool
	syncTotalKB      int64
	syncLeftKB       int64
	syncElapsed      time.Duration
	syncDuration     time.Duration
}

func (t *txn) view(node string, r *Resource) view { return resourceView(t.st, node, r, t.now) }

func resourceView(st *State, node string, r *Resource, now time.Time) view {
	rn := r.Nodes[node]
	peer := r.Nodes[st.peerOf(node)]
	v := view{up: rn.Up, role: rn.Role, disk: rn.Disk, suspendedFencing: rn.SuspendedFencing, failIO: rn.FailIO}
	switch {
	case !rn.WantConnect:
		v.cstate = connStandAlone
	case r.Connected:
		v.cstate = connConnected
	default:
		v.cstate = connConnecting
	}
	if r.Connected {
		v.peerRole, v.peerDisk, v.repl = peer.Role, peer.Disk, replEstablished
		if s := r.Sync; s != nil {
			v.repl = replSyncTarget
			if s.Source == node {
				v.repl = replSyncSource
			}
			v.syncTotalKB, v.syncDuration = s.TotalKB, time.Duration(s.Duration)
			v.syncElapsed = min(max(now.Sub(s.Start), 0), v.syncDuration)
			v.syncLeftKB = s.TotalKB
			if v.syncDuration > 0 {
				// TotalKB * elapsed / duration without overflow or rounding.
				hi, lo := bits.Mul64(uint64(s.TotalKB), uint64(v.syncElapsed))
				synced, _ := bits.Div64(hi, lo, uint64(v.syncDuration))
				v.syncLeftKB = s.TotalKB - int64(synced)
			}
		}
	} else {
		v.peerRole, v.peerDisk, v.repl = roleUnknown, rn.PeerDisk, replOff
		if v.peerDisk == "" {
			v.peerDisk = diskDUnknown
		}
	}
	return v
}

// syncDone is DRBD 9's done: percentage of a running resync.
func (v view) syncDone() float64 {
	if v.syncTotalKB == 0 {
		return 100
	}
	return 100 * float64(v.syncTotalKB-v.syncLeftKB) / float64(v.syncTotalKB)
}

// upToDateNodes is the UP_TO_DATE_NODES mask of the fence-peer environment.
func upToDateNodes(st *State, node string, r *Resource, now time.Time) string {
	v := resourceView(st, node, r, now)
	var mask uint64
	if v.disk == diskUpToDate {
		mask |= 1 << st.nodeID(node)
	}
	if v.peerDisk == diskUpToDate {
		mask |= 1 << st.nodeID(st.peerOf(node))
	}
	return fmt.Sprintf("0x%08X", mask)
}

// parseDRBDSpec reads NAME:MINOR:DISK:PORT (the disk path may hold ':').
func parseDRBDSpec(spec string) (DRBDResource, error) {
	var res DRBDResource
	name, rest, ok1 := strings.Cut(spec, ":")
	minor, rest, ok2 := strings.Cut(rest, ":")
	i := strings.LastIndex(rest, ":")
	if !ok1 || !ok2 || i < 0 {
		return res, fmt.Errorf("drbd resource %q: want NAME:MINOR:DISK:PORT, e.g. r0:0:/dev/vg0/r0:7789", spec)
	}
	disk, port := rest[:i], rest[i+1:]
	m, err := strconv.Atoi(minor)
	if err != nil || m < 0 {
		return res, fmt.Errorf("drbd resource %q: minor %q is not a number", spec, minor)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return res, fmt.Errorf("drbd resource %q: port %q is not a port number", spec, port)
	}
	if name == "" || disk == "" {
		return res, fmt.Errorf("drbd resource %q: empty name or disk", spec)
	}
	return DRBDResource{Name: name, Minor: m, Disk: disk, Port: p}, nil
}

package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"xhad/internal/runner"
)

// DRBD's fence-peer exit codes (enum drbd_peer_state).
const (
	fencePeerInconsistent = 3
	fencePeerOutdated     = 4
	fencePeerDown         = 5
	fencePeerPrimary      = 6
	fencePeerStonithed    = 7
)

// fenceJob is one run of a resource's fence-peer handler, prepared under the
// lock and run after it is released (the handler may itself call drbdadm).
type fenceJob struct {
	Res     string
	Node    string
	Why     string // "promote" or "connection-lost"
	Epoch   int
	Handler string
	Env     []string
	Timeout time.Duration
}

func addressFamily(addr string) string {
	if strings.Contains(addr, ":") {
		return "ipv6"
	}
	return "ipv4"
}

// newFenceJob builds the handler's environment as DRBD 9 does: the kernel's
// connection-helper variables plus those drbdadm adds (reference 1.2). The
// kernel's minimal HOME/TERM/PATH are not imposed: the handler inherits the
// simulator's environment, so a test's PATH still finds the simulators.
func (t *txn) newFenceJob(node string, r *Resource, why string) fenceJob {
	st := t.st
	peer := st.peerOf(node)
	myID, peerID := st.nodeID(node), st.nodeID(peer)
	myAddr, peerAddr := st.Addresses[myID], st.Addresses[peerID]
	v := t.view(node, r)
	minor := strconv.Itoa(r.Minor)
	env := []string{
		"DRBD_CONF=" + filepath.Join(t.dir, drbdConfFile),
		"DRBD_RESOURCE=" + r.Name,
		fmt.Sprintf("DRBD_NODE_ID_%d=%s", 0, st.Nodes[0]),
		fmt.Sprintf("DRBD_NODE_ID_%d=%s", 1, st.Nodes[1]),
		"DRBD_MY_NODE_ID=" + strconv.Itoa(myID),
		"DRBD_PEER_NODE_ID=" + strconv.Itoa(peerID),
		"DRBD_MINOR=" + minor,
		"DRBD_MINOR_0=" + minor,
		"DRBD_VOLUME=0",
		"DRBD_LL_DISK=" + r.Disk,
		"DRBD_BACKING_DEV_0=" + r.Disk,
		"DRBD_MY_ADDRESS=" + myAddr,
		"DRBD_MY_AF=" + addressFamily(myAddr),
		"DRBD_PEER_ADDRESS=" + peerAddr,
		"DRBD_PEER_AF=" + addressFamily(peerAddr),
		"DRBD_CSTATE=" + v.cstate,
		"UP_TO_DATE_NODES=" + upToDateNodes(st, node, r, t.now),
		EnvDir + "=" + t.dir,
		EnvNode + "=" + node,
	}
	return fenceJob{Res: r.Name, Node: node, Why: why, Epoch: r.ConnEpoch, Handler: r.Handler, Env: env,
		Timeout: time.Duration(st.Settings.HandlerTimeout)}
}

// handlerArgv splits the handler string into argv with strings.Fields (no
// shell: quotes are not interpreted) and replaces {node} in each field.
func handlerArgv(handler, node string) []string {
	fields := strings.Fields(handler)
	for i, f := range fields {
		fields[i] = strings.ReplaceAll(f, "{node}", node)
	}
	return fields
}

// runFenceHandler runs the handler and returns the exit status drbdadm
// would pass on to the kernel: no handler configured gives 0, a program that
// cannot be started 127 (what /bin/sh reports), a handler killed at the
// timeout 137.
func (s *sim) runFenceHandler(job fenceJob) int {
	argv := handlerArgv(job.Handler, job.Node)
	if len(argv) == 0 {
		s.logHandler(job, argv, 0, runner.Result{}, nil)
		return 0
	}
	res, err := s.runner.Run(context.Background(), runner.Cmd{Path: argv[0], Args: argv[1:], Env: job.Env, Timeout: job.Timeout})
	code := 0
	switch {
	case err == nil:
	case errors.Is(err, runner.ErrTimeout):
		code = 137
	case runner.ExitCode(err) >= 0:
		code = runner.ExitCode(err)
	default:
		code = 127
	}
	s.logHandler(job, argv, code, res, err)
	return code
}

// logHandler appends one line per handler run to DIR/fence-handler.log, for
// whoever debugs a test; it is not part of the journal.
func (s *sim) logHandler(job fenceJob, argv []string, code int, res runner.Result, runErr error) {
	line := fmt.Sprintf("%s node=%s res=%s why=%s rc=%d argv=%s stdout=%s stderr=%s",
		s.clock.Now().UTC().Format(time.RFC3339Nano), job.Node, job.Res, job.Why, code,
		quoteValue(strings.Join(argv, " ")), quoteValue(strings.TrimSpace(string(res.Stdout))), quoteValue(strings.TrimSpace(string(res.Stderr))))
	if runErr != nil && runner.ExitCode(runErr) < 0 {
		line += " error=" + quoteValue(runErr.Error())
	}
	f, err := os.OpenFile(filepath.Join(s.dir, handlerLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// applyFenceResult does what the kernel does with the handler's exit code
// (conn_try_outdate_peer): 3, 4, 7 and (with local UpToDate data) 5 mark the
// peer's disk Inconsistent or Outdated; 6 outdates the local disk; anything
// else, 0 and 1 included, leaves the peer not fenced. A result that comes
// back after the connection changed is ignored.
func (t *txn) applyFenceResult(job fenceJob, code int) {
	r := t.st.resource(job.Res)
	if r == nil {
		return
	}
	rn := r.Nodes[job.Node]
	peerDisk, ownDisk, effect := "", "", ""
	switch {
	case r.Connected || r.ConnEpoch != job.Epoch || !rn.Up:
		effect = "ignored: the connection changed while the handler ran"
	case code == fencePeerInconsistent:
		peerDisk, effect = diskInconsistent, "peer is inconsistent or worse"
	case code == fencePeerOutdated:
		peerDisk, effect = diskOutdated, "peer was fenced"
	case code == fencePeerDown && rn.Disk == diskUpToDate:
		peerDisk, effect = diskOutdated, "peer is unreachable, assumed to be dead"
	case code == fencePeerDown:
		effect = "peer unreachable, doing nothing since disk != UpToDate"
	case code == fencePeerPrimary:
		ownDisk, effect = diskOutdated, "peer is active, outdating myself"
	case code == fencePeerStonithed:
		peerDisk, effect = diskOutdated, "peer was stonithed"
		if r.Fencing != fencingStonith {
			effect += " (fence-peer() = 7 && fencing != Stonith !!!)"
		}
	default:
		effect = fmt.Sprintf("fence-peer helper broken, returned %d", code)
	}
	t.journal(job.Node, kindFenceHandler, "res", r.Name, "rc", strconv.Itoa(code), "why", job.Why, "effect", effect)
	if peerDisk != "" {
		rn.PeerDisk = peerDisk
		if job.Why == "promote" && rn.Disk == diskConsistent {
			t.setDisk(job.Node, r, diskUpToDate, "peer fenced")
		}
	}
	if ownDisk != "" {
		t.setDisk(job.Node, r, ownDisk, "fence-peer handler: peer is Primary")
	}
	if rn.SuspendedFencing && isKnownOutdated(rn.PeerDisk) {
		rn.SuspendedFencing = false
		t.journal(job.Node, kindIOResumed, "res", r.Name, "why", "peer fenced")
	}
}

// runConnectionLossFences runs the handlers a lost connection started and
// applies their results.
func (s *sim) runConnectionLossFences(jobs []fenceJob) error {
	for _, job := range jobs {
		code := s.runFenceHandler(job)
		err := s.transact(func(t *txn) error {
			t.applyFenceResult(job, code)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

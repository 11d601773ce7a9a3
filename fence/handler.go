package fence

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Exit codes of the fence-peer handler, as DRBD reads them
// (enum drbd_peer_state; the kernel's conn_try_outdate_peer, same in 8.4 and 9).
const (
	ExitPeerInconsistent = 3 // peer disk is Inconsistent or worse: the kernel marks it Inconsistent
	ExitPeerOutdated     = 4 // the peer outdated itself: the kernel marks its disk Outdated
	ExitPeerUnreachable  = 5 // peer dead: the kernel marks it Outdated only if our disk is UpToDate
	ExitPeerPrimary      = 6 // peer is Primary: the kernel outdates OUR disk
	ExitPeerFenced       = 7 // peer stonithed: the kernel marks it Outdated whatever our disk; never returned
	// ExitNotFenced is xhad's deliberate "not fenced" answer. Any code outside
	// 3..7 makes the kernel log "fence-peer helper broken, returned N" and
	// change nothing: with resource-and-stonith I/O stays frozen (until the
	// connection returns, or `drbdadm resume-io`), and a promotion of a
	// disconnected node is refused ("Refusing to be Primary while peer is not
	// outdated"; an operator can still `drbdadm primary --force`). 100 is clear
	// of DRBD's codes, of 0/1 (which a crashing or half-written handler
	// returns by accident), and of the shell's 126/127/128+N; drbdadm logs
	// "Command '/bin/sh -c …' terminated with exit code 100".
	ExitNotFenced = 100
)

// DefaultHandlerTimeout bounds the handler. drbdadm sets no timeout of its
// own, and with resource-and-stonith the Primary's I/O is frozen while the
// handler runs. It should exceed the daemon's deadtime, so that a peer that
// just died is declared dead (answer 5) rather than timed out (answer 100).
const DefaultHandlerTimeout = 20 * time.Second

// HandlerEnv is what DRBD tells the fence-peer handler (environment only: the
// handler gets no arguments).
type HandlerEnv struct {
	Resource    string   // DRBD_RESOURCE
	PeerNode    string   // the peer's host name: DRBD_NODE_ID_<DRBD_PEER_NODE_ID> (9), DRBD_PEER (8.4)
	PeerAddress string   // DRBD_PEER_ADDRESS
	PeerAF      string   // DRBD_PEER_AF: ipv4, ipv6, ...
	MyAddress   string   // DRBD_MY_ADDRESS (9 only)
	MyNodeID    string   // DRBD_MY_NODE_ID (9 only)
	PeerNodeID  string   // DRBD_PEER_NODE_ID (9 only)
	Minors      []string // DRBD_MINOR (space-separated in 9), else DRBD_MINOR_<vnr>
	CState      string   // DRBD_CSTATE (9 only): the connection state when the kernel called
	UpToDate    uint64   // UP_TO_DATE_NODES (9 only): node-id bit mask
	Conf        string   // DRBD_CONF
	Version     int      // 9 when DRBD 9 variables are present (DRBD_PEER_NODE_ID or DRBD_MY_NODE_ID), else 8
}

// ParseHandlerEnv reads the variables the DRBD kernel module and drbdadm set
// for a fence-peer (or unfence-peer) handler, for DRBD 9 and 8.4.
func ParseHandlerEnv(getenv func(string) string) (HandlerEnv, error) {
	e := HandlerEnv{
		Resource:    getenv("DRBD_RESOURCE"),
		PeerAddress: getenv("DRBD_PEER_ADDRESS"),
		PeerAF:      getenv("DRBD_PEER_AF"),
		MyAddress:   getenv("DRBD_MY_ADDRESS"),
		MyNodeID:    getenv("DRBD_MY_NODE_ID"),
		PeerNodeID:  getenv("DRBD_PEER_NODE_ID"),
		CState:      getenv("DRBD_CSTATE"),
		Conf:        getenv("DRBD_CONF"),
		Version:     8,
	}
	if e.Resource == "" {
		return HandlerEnv{}, errors.New("fence-peer handler: DRBD_RESOURCE is not set (not run by DRBD?); " +
			"DRBD runs it through `drbdadm fence-peer RES` with fence-peer \"/usr/sbin/xhad fence-peer\" in the resource's handlers section")
	}
	if e.PeerNodeID != "" || e.MyNodeID != "" {
		e.Version = 9
	}
	if e.PeerNodeID != "" {
		if _, err := strconv.Atoi(e.PeerNodeID); err != nil {
			return HandlerEnv{}, fmt.Errorf("fence-peer handler: DRBD_PEER_NODE_ID=%q is not a node id", e.PeerNodeID)
		}
		e.PeerNode = getenv("DRBD_NODE_ID_" + e.PeerNodeID)
	}
	if e.PeerNode == "" {
		e.PeerNode = getenv("DRBD_PEER") // 8.4
	}
	if e.PeerNode == "" {
		// 8.4 with several peers lists them; two-node clusters have one.
		if peers := strings.Fields(getenv("DRBD_PEERS")); len(peers) == 1 {
			e.PeerNode = peers[0]
		}
	}
	if m := strings.Fields(getenv("DRBD_MINOR")); len(m) > 0 {
		e.Minors = m
	} else {
		// Only the kernel's per-volume variables (drbdadm not in between).
		var vnrs []int
		for v := 0; v < 64; v++ {
			if getenv("DRBD_MINOR_"+strconv.Itoa(v)) != "" {
				vnrs = append(vnrs, v)
			}
		}
		sort.Ints(vnrs)
		for _, v := range vnrs {
			e.Minors = append(e.Minors, getenv("DRBD_MINOR_"+strconv.Itoa(v)))
		}
	}
	if s := getenv("UP_TO_DATE_NODES"); s != "" {
		m, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
		if err != nil {
			return HandlerEnv{}, fmt.Errorf("fence-peer handler: UP_TO_DATE_NODES=%q is not a hexadecimal mask", s)
		}
		e.UpToDate = m
	}
	if e.PeerNode == "" && e.PeerAddress == "" {
		return HandlerEnv{}, fmt.Errorf("fence-peer handler for %s: cannot tell the peer: none of DRBD_PEER_NODE_ID with DRBD_NODE_ID_n, DRBD_PEER(S), DRBD_PEER_ADDRESS is set", e.Resource)
	}
	return e, nil
}

// OutcomeKind says how asking the peer to outdate the resource ended.
type OutcomeKind int

const (
	// PeerReplied: the peer ran `drbdadm outdate RES` and replied its exit code.
	PeerReplied OutcomeKind = iota + 1
	// PeerUnreachable: the daemon has the peer dead (silent on every link for
	// deadtime); nobody could be asked.
	PeerUnreachable
	// TimedOut: the peer was alive (or not yet declared dead) but no answer
	// came within the handler's time limit.
	TimedOut
	// DaemonNotRunning: the local xhad daemon could not be asked.
	DaemonNotRunning
)

func (k OutcomeKind) String() string {
	switch k {
	case PeerReplied:
		return "peer-replied"
	case PeerUnreachable:
		return "peer-unreachable"
	case TimedOut:
		return "timed-out"
	case DaemonNotRunning:
		return "daemon-not-running"
	}
	return "outcome(" + strconv.Itoa(int(k)) + ")"
}

// Outcome is the result of asking the peer to outdate the resource.
type Outcome struct {
	Kind   OutcomeKind
	Code   int    // PeerReplied: the exit code of the peer's `drbdadm outdate RES`
	Stderr string // PeerReplied: its standard error, for the log
	// PeerFenceInPlace (DaemonNotRunning): this node's nftables peer fence is
	// installed and verified (read back from the kernel), so the peer cannot
	// reconnect and resync.
	PeerFenceInPlace bool
}

// ExitFor maps an outcome to the handler's exit code and a one-line reason
// for the log. It never returns 0 or 1 (which the kernel reads as "helper
// broken") and never 7.
//
//	outcome                         exit  the kernel then
//	peer outdate exit 0             4     marks the peer Outdated; I/O resumes, promotion allowed
//	peer outdate exit 5             3     (peer Inconsistent/Diskless) marks the peer Inconsistent
//	peer outdate exit 17            6     (peer is Primary) outdates OUR disk: we cannot become Primary
//	peer outdate exit 20            100   (peer still Connected; 8.4: connected at all) nothing: not fenced
//	peer outdate exit 10, 11, 16,
//	  127, any other                100   nothing: not fenced (the peer is alive and did not outdate)
//	peer unreachable (dead)         5     marks the peer Outdated if our disk is UpToDate, else nothing
//	timed out, peer alive           100   nothing: not fenced
//	daemon not running, peer fence
//	  installed and verified        5     as unreachable: the peer cannot reconnect to resync
//	daemon not running, no fence    100   nothing: not fenced
//
// Where this differs from LINBIT's outdate-peer.sh (which returns 5 for any
// unknown code and for no answer): xhad knows whether the peer is alive from
// its heartbeats, so an alive peer that did not outdate is never reported as
// dead. 7 is never returned: it would make the kernel outdate the peer even
// when our own disk is only Consistent (a promotion of a disconnected DRBD 9
// node), and xhad has no power switch to have really stopped the peer.
func ExitFor(o Outcome) (code int, why string) {
	switch o.Kind {
	case PeerReplied:
		msg := strings.TrimSpace(o.Stderr)
		if msg != "" {
			msg = ": " + firstLine(msg)
		}
		switch o.Code {
		case 0:
			return ExitPeerOutdated, "the peer outdated its disk"
		case 5:
			return ExitPeerInconsistent, "the peer's disk is Inconsistent or Diskless (drbdadm outdate exit 5)"
		case 17:
			return ExitPeerPrimary, "the peer is Primary and refused to outdate (drbdadm outdate exit 17); DRBD outdates our disk"
		case 20:
			return ExitNotFenced, "not fenced: the peer is still connected and could not outdate (drbdadm outdate exit 20" + msg + ")"
		default:
			return ExitNotFenced, fmt.Sprintf("not fenced: the peer's drbdadm outdate exited %d%s", o.Code, msg)
		}
	case PeerUnreachable:
		return ExitPeerUnreachable, "the peer is unreachable on every link, assumed dead"
	case TimedOut:
		return ExitNotFenced, "not fenced: no answer from the peer in time, and it was not declared dead"
	case DaemonNotRunning:
		if o.PeerFenceInPlace {
			return ExitPeerUnreachable, "the xhad daemon is not running; the nftables peer fence is in place, so the peer cannot reconnect"
		}
		return ExitNotFenced, "not fenced: the xhad daemon is not running and no peer fence is in place; start xhad, or outdate the peer by hand (on the peer: drbdadm outdate RES)"
	}
	return ExitNotFenced, fmt.Sprintf("not fenced: unknown outcome %v", o.Kind)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Decide runs ask with a deadline and maps its outcome with ExitFor. When ask
// has not returned when timeout passes (its context is cancelled then), the
// outcome is TimedOut; Decide does not wait for ask to finish. It is the
// bounded core of `xhad fence-peer`: ask asks the local daemon, which asks the
// peer; when the daemon cannot be reached, ask checks the local peer fence and
// returns DaemonNotRunning.
func Decide(ctx context.Context, timeout time.Duration, ask func(context.Context) Outcome) (code int, why string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan Outcome, 1)
	go func() { done <- ask(ctx) }()
	select {
	case o := <-done:
		return ExitFor(o)
	case <-ctx.Done():
		code, why := ExitFor(Outcome{Kind: TimedOut})
		return code, fmt.Sprintf("%s (after %s)", why, timeout)
	}
}

// DaemonDownOutcome is the outcome when the local daemon cannot be asked:
// the handler decides alone, from the one fact it can check itself, whether
// this node's nftables peer fence is installed (read back from the kernel
// through f). Any error reading it counts as "not in place", so the answer
// is then "not fenced" (ExitNotFenced), never "peer dead".
func DaemonDownOutcome(ctx context.Context, f Fencer) Outcome {
	o := Outcome{Kind: DaemonNotRunning}
	fences, err := f.Fences(ctx)
	if err != nil {
		return o
	}
	for _, x := range fences {
		if x.Kind == KindPeer {
			o.PeerFenceInPlace = true
		}
	}
	return o
}

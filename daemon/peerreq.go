package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"xhad/daemon/link"
	"xhad/internal/runner"
)

// A peer request travels as a link Request message on every link at once
// (the first copy to arrive is used, so the serial cable alone suffices),
// and its answer as a Reply. The only request today is "outdate": run
// `drbdadm outdate RES` on the peer for the DRBD fence-peer handler.

type peerRequest struct {
	ID       uint64 `json:"id"`
	Op       string `json:"op"`
	Resource string `json:"resource"`
}

// PeerReply is the peer's answer to an outdate request.
type PeerReply struct {
	ID       uint64 `json:"id"`
	Op       string `json:"op"`
	Resource string `json:"resource"`
	ExitCode int    `json:"exit-code"` // of `drbdadm outdate` on the peer; -1 when it could not run
	Stderr   string `json:"stderr,omitempty"`
	Role     string `json:"role,omitempty"` // the peer's role for the resource, when known
}

type pendingReq struct {
	reply chan PeerReply
}

// errPeerUnreachable: the peer is silent on every link (dead for the core).
var errPeerUnreachable = errors.New("no reply from the peer on any link")

// askPeer sends an outdate request on every link and waits for the reply.
// It runs inside the loop only to register and send; the wait is the
// caller's (a control-socket goroutine).
func (d *Daemon) askPeer(op, res string) (uint64, chan PeerReply) {
	d.reqID++
	id := d.reqID
	ch := make(chan PeerReply, 1)
	d.pending[id] = &pendingReq{reply: ch}
	body, _ := json.Marshal(peerRequest{ID: id, Op: op, Resource: res})
	d.sendKind(link.Request, body)
	return id, ch
}

func (d *Daemon) sendKind(kind link.Kind, body []byte) {
	d.seq++
	msg := link.Message{Cluster: d.plan.Cluster, From: d.self, Epoch: d.epoch, Seq: d.seq, Kind: kind, Body: body}
	for _, l := range d.links {
		_ = l.Send(msg)
	}
}

// handlePeerMessage deals with Request and Reply messages in the loop.
func (d *Daemon) handlePeerMessage(ctx context.Context, r link.Received) {
	switch r.Msg.Kind {
	case link.Request:
		var req peerRequest
		if err := json.Unmarshal(r.Msg.Body, &req); err != nil || req.Op != "outdate" || req.Resource == "" {
			d.log.Warn("dropped a malformed request from the peer", "link", r.Link)
			return
		}
		// The same request arrives on every link: answer it once.
		key := fmt.Sprintf("%d/%d", r.Msg.Epoch, req.ID)
		if d.answered[key] {
			return
		}
		d.answered[key] = true
		go d.outdate(ctx, req)
	case link.Reply:
		var rep PeerReply
		if err := json.Unmarshal(r.Msg.Body, &rep); err != nil {
			d.log.Warn("dropped a malformed reply from the peer", "link", r.Link)
			return
		}
		if p, ok := d.pending[rep.ID]; ok {
			delete(d.pending, rep.ID)
			p.reply <- rep
		}
	}
}

// outdate runs `drbdadm outdate RES` for the peer's fence-peer handler and
// sends the reply. It is refused (and says why) when the resource is not one
// of this node's configured DRBD resources.
func (d *Daemon) outdate(ctx context.Context, req peerRequest) {
	rep := PeerReply{ID: req.ID, Op: req.Op, Resource: req.Resource, ExitCode: -1}
	if !d.knowsDRBD(req.Resource) {
		rep.Stderr = fmt.Sprintf("DRBD resource %s is not configured in %s on %s", req.Resource, d.plan.File, d.self)
	} else {
		res, err := d.run.Run(ctx, runner.Cmd{Path: d.plan.Tools.Drbdadm, Args: []string{"outdate", req.Resource}, Timeout: 10 * time.Second})
		rep.ExitCode = res.ExitCode
		rep.Stderr = strings.TrimSpace(string(res.Stderr))
		if err != nil && runner.ExitCode(err) < 0 {
			rep.ExitCode = -1
			rep.Stderr = err.Error()
		}
		if out, err := d.run.Run(ctx, runner.Cmd{Path: d.plan.Tools.Drbdadm, Args: []string{"role", req.Resource}, Timeout: 5 * time.Second}); err == nil {
			rep.Role = strings.TrimSpace(strings.SplitN(string(out.Stdout), "\n", 2)[0])
		}
	}
	d.log.Info("peer asked to outdate a DRBD resource", "res", req.Resource, "exit", rep.ExitCode, "why", "fence-peer handler on the peer")
	body, _ := json.Marshal(rep)
	d.sendReply <- body
}

func (d *Daemon) knowsDRBD(name string) bool {
	for _, g := range d.plan.Groups {
		for _, r := range g.Resources {
			if r.DRBD != nil && r.DRBD.Resource == name {
				return true
			}
		}
	}
	return false
}

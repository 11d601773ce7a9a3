package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"xhad/daemon/control"
	"xhad/daemon/core"
	"xhad/dsl"
	"xhad/fence"
	"xhad/resources"
)

// reqExpired: nobody waits for the reply of a peer request any more.
type reqExpired struct{ id uint64 }

type ctlRequest struct {
	req   control.Request
	reply chan control.Response
}

// handleControl runs on the control server's goroutines; it hands the request
// to the loop, which alone touches the core.
func (d *Daemon) handleControl(ctx context.Context, req control.Request) control.Response {
	r := ctlRequest{req: req, reply: make(chan control.Response, 1)}
	select {
	case d.requests <- r:
	case <-ctx.Done():
		return control.Failure(fmt.Errorf("xhad is shutting down"))
	}
	select {
	case resp := <-r.reply:
		return resp
	case <-ctx.Done():
		return control.Failure(fmt.Errorf("xhad is shutting down"))
	}
}

// request handles one control request inside the loop.
func (d *Daemon) request(r ctlRequest) []core.Action {
	var acts []core.Action
	resp := control.Response{OK: true}
	switch r.req.Cmd {
	case "status":
	case "standby":
		d.log.Info("control: standby", "why", "operator command")
		acts = d.m.Step(core.Command{Op: core.CmdStandby})
	case "takeover":
		force := r.req.Args["force"] == "true"
		d.log.Info("control: takeover", "force", force, "why", "operator command")
		acts = d.m.Step(core.Command{Op: core.CmdTakeover, Force: force})
	case "maintenance":
		switch r.req.Args["mode"] {
		case "on":
			acts = d.m.Step(core.Command{Op: core.CmdMaintenanceOn})
		case "off":
			acts = d.m.Step(core.Command{Op: core.CmdMaintenanceOff})
		default:
			resp = control.Failure(fmt.Errorf("maintenance takes on or off, not %q", r.req.Args["mode"]))
		}
	case "fence-peer":
		res := r.req.Args["resource"]
		if res == "" {
			resp = control.Failure(fmt.Errorf("fence-peer needs a DRBD resource name"))
			break
		}
		timeout, err := time.ParseDuration(r.req.Args["timeout"])
		if err != nil || timeout <= 0 {
			timeout = d.plan.Fencing.FencePeerTimeout
		}
		if st := d.m.Status(); !st.Peer.Alive {
			// Silent on every link for deadtime (or gone): DRBD may treat it
			// as dead, which a takeover needs to promote.
			resp = control.Failure(fmt.Errorf("%w: peer %s silent on every link for deadtime", errPeerUnreachable, d.peer))
			break
		}
		d.log.Info("DRBD fence-peer handler: asking the peer to outdate its disk", "res", res, "why", "DRBD lost its peer or promotes while disconnected")
		id, ch := d.askPeer("outdate", res)
		go func() {
			select {
			case rep := <-ch:
				r.reply <- control.Success(rep)
			case <-time.After(timeout):
				d.events <- reqExpired{id: id}
				r.reply <- control.Failure(fmt.Errorf("peer %s is alive but did not answer within %s: not fenced", d.peer, timeout))
			}
		}()
		return nil
	case "unfence":
		peer, self := r.req.Args["peer"] == "true", r.req.Args["self"] == "true"
		if !peer && !self {
			peer, self = true, true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.fence.Unfence(ctx, peer, self)
		cancel()
		if err != nil {
			resp = control.Failure(fmt.Errorf("unfence: %w", err))
		} else {
			d.log.Warn("unfenced by an operator", "peer", peer, "self", self, "why", "xhad unfence")
		}
	case "reload":
		if err := d.reload(); err != nil {
			d.log.Error("reload refused: the old configuration stays in force", "why", err.Error())
			resp = control.Failure(err)
		}
	default:
		resp = control.Failure(fmt.Errorf("unknown command %q (status, standby, takeover, maintenance, reload)", r.req.Cmd))
	}
	if resp.OK {
		// Answer with the state after the command's first decisions.
		snapshot := d.report(acts)
		resp = control.Success(snapshot)
	}
	// The actions are carried out by the caller right after; the reply can
	// go now, it says what was decided.
	r.reply <- resp
	return acts
}

// reload re-reads the configuration. A file that does not validate is
// refused with every problem named. A valid file is applied when it changes
// only the log level; any other change needs a restart of the daemon (best
// done on the standby node first), and the reply names what changed.
func (d *Daemon) reload() error {
	p, err := dsl.Load(d.plan.File)
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.plan.File, err)
	}
	changed := planDiff(d.plan, p)
	if len(changed) == 0 {
		d.log.Info("reload: configuration unchanged", "why", "operator reload")
		return nil
	}
	if len(changed) == 1 && changed[0] == "log-level" {
		d.plan.LogLevel = p.LogLevel
		d.log.Info("reload: log level changed; note: the level of the running logger is fixed at start", "log-level", p.LogLevel)
		return nil
	}
	return fmt.Errorf("reload %s: valid, but changes to %s need a restart of xhad (systemctl restart xhad, on the standby node first)", p.File, strings.Join(changed, ", "))
}

// planDiff names the top-level settings that differ between two plans.
func planDiff(a, b *dsl.Plan) []string {
	var out []string
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "File" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			out = append(out, name)
		}
	}
	return out
}

// StatusReport is what `xhad status --json` prints. Its field names are
// stable; new fields may be added.
type StatusReport struct {
	Node         string          `json:"node"`
	Cluster      string          `json:"cluster"`
	Epoch        uint64          `json:"epoch"`
	StartedAt    time.Time       `json:"started-at"`
	Maintenance  bool            `json:"maintenance"`
	FlapHold     bool            `json:"flap-hold"`
	ShuttingDown bool            `json:"shutting-down"`
	Isolated     bool            `json:"isolated"` // no link to the peer, no ping target (on-isolation = stop)
	Peer         core.PeerStatus `json:"peer"`
	Links        []LinkReport    `json:"links"`
	Groups       []GroupReport   `json:"groups"`
	Fencing      FencingReport   `json:"fencing"`
	LastDecision *core.Report    `json:"last-decision,omitempty"`
	Pending      []string        `json:"pending-actions,omitempty"` // what the command just decided
}

// LinkReport is one heartbeat link.
type LinkReport struct {
	Name       string            `json:"name"`
	Up         bool              `json:"up"`
	Late       bool              `json:"late"`
	AgeMillis  int64             `json:"age-ms"` // since the last accepted heartbeat; -1 never
	Rx         uint64            `json:"rx"`
	Tx         uint64            `json:"tx"`
	SendErrors uint64            `json:"send-errors"`
	Dropped    map[string]uint64 `json:"dropped,omitempty"`
	Reconnects uint64            `json:"reconnects,omitempty"`
}

// GroupReport is one group and its resources.
type GroupReport struct {
	core.GroupStatus
	Progress  string           `json:"progress,omitempty"`
	Resources []ResourceReport `json:"resources"`
}

// ResourceReport is one resource as last seen.
type ResourceReport struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Exclusive bool      `json:"exclusive"`
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`
	Since     time.Time `json:"since,omitempty"`
	// Gate: the replication gate's last verdict of a database resource
	// here (kept when a refused start is rolled back).
	Gate *GateReport `json:"gate,omitempty"`
}

// GateReport is a database resource's last promotion check.
type GateReport struct {
	Verdict         string   `json:"verdict"` // allowed, refused or forced
	Reasons         []string `json:"reasons,omitempty"`
	LagBytes        int64    `json:"lag-bytes"` // -1 unknown
	LagSeconds      int64    `json:"lag-seconds"`
	LagTransactions int64    `json:"lag-transactions"`
}

func gateReport(r resources.Resource) *GateReport {
	db, ok := r.(*resources.Database)
	if !ok {
		return nil
	}
	g := db.LastGate()
	if g == nil {
		return nil
	}
	v := "refused"
	switch {
	case g.Forced:
		v = "forced"
	case g.Promotable:
		v = "allowed"
	}
	return &GateReport{Verdict: v, Reasons: g.Reasons, LagBytes: g.LagBytes, LagSeconds: g.LagSeconds, LagTransactions: g.LagTrx}
}

// FencingReport says which fences are configured and what the core knows.
type FencingReport struct {
	PeerFenceConfigured bool          `json:"peer-fence-configured"`
	SelfFenceConfigured bool          `json:"self-fence-configured"`
	PeerFenced          bool          `json:"peer-fenced"` // the core's view: fenced during this peer-silent episode
	LastError           string        `json:"last-error,omitempty"`
	Installed           []fence.Fence `json:"installed,omitempty"` // read back from nftables: kind, since, why
	ReadError           string        `json:"read-error,omitempty"`
}

func (d *Daemon) report(pending []core.Action) StatusReport {
	st := d.m.Status()
	r := StatusReport{
		Node: d.self, Cluster: d.plan.Cluster, Epoch: d.epoch, StartedAt: d.started,
		Maintenance: st.Maintenance, FlapHold: st.FlapHold, ShuttingDown: st.ShuttingDown, Isolated: st.Isolated,
		Peer: st.Peer, LastDecision: st.LastDecision,
		Fencing: FencingReport{
			PeerFenceConfigured: d.plan.Fencing.PeerFence, SelfFenceConfigured: d.plan.Fencing.SelfFence,
			PeerFenced: st.Peer.Fenced, LastError: st.Peer.FenceError,
		},
	}
	fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if fs, err := d.fence.Fences(fctx); err != nil {
		r.Fencing.ReadError = err.Error()
	} else {
		r.Fencing.Installed = fs
	}
	cancel()
	coreLinks := map[string]core.LinkStatus{}
	for _, l := range st.Links {
		coreLinks[l.Name] = l
	}
	for _, l := range d.links {
		ls := l.Stats()
		cl := coreLinks[l.Name()]
		lr := LinkReport{Name: l.Name(), Up: cl.Up, Late: cl.Late, AgeMillis: -1, Rx: ls.Rx, Tx: ls.Tx,
			SendErrors: ls.SendErrors, Dropped: ls.Dropped, Reconnects: ls.Reconnects}
		if !ls.LastRx.IsZero() {
			lr.AgeMillis = time.Since(ls.LastRx).Milliseconds()
		}
		r.Links = append(r.Links, lr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, gs := range st.Groups {
		g := d.groups[gs.Name]
		gr := GroupReport{GroupStatus: gs, Progress: d.progress[gs.Name]}
		for _, spec := range g.Resources {
			rs := d.resState[spec.Name]
			if rs.State == "" {
				rs.State = "unknown"
			}
			gr.Resources = append(gr.Resources, ResourceReport{Name: spec.Name, Kind: string(spec.Kind), Exclusive: spec.Exclusive(),
				State: rs.State, Detail: rs.Detail, Since: rs.Since, Gate: gateReport(d.res[gs.Name][spec.Name])})
		}
		r.Groups = append(r.Groups, gr)
	}
	for _, a := range pending {
		switch a := a.(type) {
		case core.StartGroup:
			r.Pending = append(r.Pending, "start "+a.Group)
		case core.StopGroup:
			r.Pending = append(r.Pending, "stop "+a.Group)
		case core.FencePeer:
			r.Pending = append(r.Pending, "fence peer")
		}
	}
	return r
}

// DecodeStatus parses the data of a status response.
func DecodeStatus(data json.RawMessage) (StatusReport, error) {
	var r StatusReport
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("decode status from the daemon: %w", err)
	}
	return r, nil
}

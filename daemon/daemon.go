package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"xhad/daemon/control"
	"xhad/daemon/core"
	"xhad/daemon/link"
	"xhad/daemon/notify"
	"xhad/daemon/statefile"
	"xhad/dsl"
	"xhad/internal/runner"
	"xhad/resources"
)

// Options configure a daemon run.
type Options struct {
	ConfigPath string
	Node       string // overrides the hostname (--node, XHAD_NODE)
	ForceMain  bool   // --force-main: a lone node may take over
	Logger     *slog.Logger
	Runner     runner.Runner // nil: real programs
	Fencer     Fencer        // nil: nftables as the plan configures it
}

// stateFile is the name of the persisted state inside the state dir.
const stateFile = "state.json"

type resState struct {
	State  string    `json:"state"`
	Detail string    `json:"detail,omitempty"`
	Since  time.Time `json:"since"`
}

// Daemon is one running xhad.
type Daemon struct {
	plan   *dsl.Plan
	self   string
	peer   string
	log    *slog.Logger
	run    runner.Runner
	fence  Fencer
	notify *notify.Notifier

	m      *core.Machine
	epoch  uint64
	seq    uint64
	links  []*link.Link
	groups map[string]dsl.Group
	res    map[string]map[string]resources.Resource // group -> name -> resource

	events   chan any // core.Event, or monitorDone
	recv     chan link.Received
	requests chan ctlRequest

	mu       sync.Mutex // guards resStates and progress (written by workers)
	resState map[string]resState
	progress map[string]string // group -> "stopping 3/120"

	busy       map[string]bool // group op or restart in flight
	monitoring map[string]bool
	isolating  map[string]bool // groups in an immediate stop because this node is isolated
	lastStatus string
	started    time.Time
	exitErr    error
	reloads    chan chan error
	wdInterval time.Duration
	lastWD     time.Time
	lastTick   time.Time
	stopSent   bool
	lastExtend time.Time

	metrics    *metrics
	hw         hwWatchdog
	refreshing atomic.Bool

	reqID     uint64
	pending   map[uint64]*pendingReq
	answered  map[string]bool
	sendReply chan []byte
}

// Run runs the daemon until an orderly shutdown completes or ctx ends (which
// is treated as an orderly shutdown request).
func Run(ctx context.Context, opts Options) error {
	plan, err := dsl.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	self, err := dsl.NodeName(plan, opts.Node)
	if err != nil {
		return err
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg = lg.With("node", self)
	d := &Daemon{
		plan: plan, self: self, peer: plan.Peer(self).Name, log: lg,
		run: opts.Runner, fence: opts.Fencer, notify: notify.New(),
		events: make(chan any, 256), recv: make(chan link.Received, 256),
		requests: make(chan ctlRequest), reloads: make(chan chan error),
		resState: map[string]resState{}, progress: map[string]string{},
		busy: map[string]bool{}, monitoring: map[string]bool{}, isolating: map[string]bool{}, started: time.Now(),
		pending: map[uint64]*pendingReq{}, answered: map[string]bool{}, sendReply: make(chan []byte, 16),
	}
	if d.run == nil {
		d.run = runner.Exec{}
	}
	d.metrics = newMetrics(d)
	d.hw.d = d
	d.fence = newPlanFencer(plan, self, opts.Fencer, d.log)
	return d.main(ctx, opts.ForceMain)
}

func (d *Daemon) main(ctx context.Context, forceMain bool) error {
	if err := os.MkdirAll(d.plan.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	unlock, err := statefile.Lock(d.plan.StateDir)
	if err != nil {
		return err
	}
	defer func() { _ = unlock() }()

	var prev core.Persisted
	statePath := filepath.Join(d.plan.StateDir, stateFile)
	if _, err := statefile.Load(statePath, &prev); err != nil {
		return err
	}
	// The boot epoch strictly increases across runs, even if the state file
	// was lost, as long as the clock does not go back by more than the
	// previous epoch's age.
	d.epoch = max(prev.Epoch+1, uint64(time.Now().UnixMilli()))

	if err := d.buildResources(); err != nil {
		return err
	}
	key, err := link.LoadKey(d.plan.AuthKeyFile)
	if err != nil {
		return err
	}
	if err := d.openLinks(key); err != nil {
		return err
	}
	defer d.closeLinks()

	srv, err := control.Listen(d.plan.ControlSocket)
	if err != nil {
		return err
	}
	loopCtx, cancelLoop := context.WithCancel(context.Background())
	defer cancelLoop()
	go func() { _ = srv.Serve(loopCtx, d.handleControl) }()
	defer srv.Close()

	for _, l := range d.links {
		go l.Run(loopCtx, d.recv)
	}
	var metricsWG sync.WaitGroup
	defer metricsWG.Wait()
	if d.plan.MetricsAddr != "" {
		if err := d.serveMetrics(loopCtx, &metricsWG); err != nil {
			return err
		}
	}

	d.m = core.New(d.coreConfig(forceMain), prev)
	// Persist the new epoch before anything can announce it.
	prev.Epoch = d.epoch
	if err := statefile.Save(statePath, prev); err != nil {
		return fmt.Errorf("persist boot epoch: %w", err)
	}
	d.log.Info("starting", "epoch", d.epoch, "peer", d.peer, "links", d.linkNames(), "groups", len(d.plan.Groups), "config", d.plan.File)

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	d.probeAll(loopCtx)
	if iv, ok := notify.WatchdogInterval(); ok {
		d.wdInterval = iv
	}
	tick := time.NewTicker(d.plan.Timing.Tick)
	defer tick.Stop()
	var pingTick <-chan time.Time
	if len(d.plan.Failover.PingTargets) > 0 {
		pt := time.NewTicker(max(d.plan.Timing.Keepalive, time.Second))
		defer pt.Stop()
		pingTick = pt.C
		go d.ping(loopCtx)
	}
	ctxDone := ctx.Done()
	ready := false
	monitorEvery := max(d.plan.Ticks.Monitor, 1)
	d.lastTick = time.Now()

	for {
		var acts []core.Action
		select {
		case now := <-tick.C:
			// A loop that did not run for a while (SIGSTOP, a hung disk)
			// must not trust what waited in its buffers meanwhile.
			if gap := now.Sub(d.lastTick); gap > 2*d.plan.Timing.Tick && gap >= d.plan.Timing.Deadtime/2 {
				acts = append(acts, d.m.Step(core.Stalled{Ticks: int(gap / d.plan.Timing.Tick)})...)
			}
			d.lastTick = now
			acts = append(acts, d.m.Tick()...)
			if d.m.Now()%monitorEvery == 0 {
				d.monitor(loopCtx)
			}
			if d.m.Now()%max(d.plan.Ticks.Keepalive, 1) == 0 {
				d.refresh(loopCtx)
			}
		case r := <-d.recv:
			if r.Msg.From != d.peer {
				d.log.Warn("dropped heartbeat from an unknown node", "link", r.Link, "from", r.Msg.From)
				continue
			}
			if r.Msg.Kind == link.Request || r.Msg.Kind == link.Reply {
				d.handlePeerMessage(loopCtx, r)
				continue
			}
			st, err := decodeState(r.Msg.Body)
			if err != nil {
				d.log.Warn("dropped heartbeat", "link", r.Link, "why", err.Error())
				continue
			}
			st.Epoch = r.Msg.Epoch
			acts = d.m.Step(core.Heard{Link: r.Link, State: st})
		case body := <-d.sendReply:
			d.sendKind(link.Reply, body)
			continue
		case ev := <-d.events:
			if md, ok := ev.(monitorDone); ok {
				d.monitoring[md.group] = false
				continue
			}
			if ex, ok := ev.(reqExpired); ok {
				delete(d.pending, ex.id)
				continue
			}
			d.workerDone(ev.(core.Event))
			acts = d.m.Step(ev.(core.Event))
		case s := <-sigs:
			acts = d.signal(s)
		case req := <-d.requests:
			acts = d.request(req)
		case <-pingTick:
			go d.ping(loopCtx)
		case <-ctxDone:
			ctxDone = nil
			d.log.Info("context ended: orderly shutdown")
			acts = d.m.Step(core.Command{Op: core.CmdShutdown})
		}
		if exit := d.do(loopCtx, acts); exit {
			break
		}
		if !ready && d.settled() {
			ready = true
			_ = d.notify.Ready()
			d.log.Info("ready", "status", d.statusLine())
		}
		d.pet()
		d.hw.tick()
		d.stopping()
		if line := d.statusLine(); line != d.lastStatus {
			d.lastStatus = line
			_ = d.notify.Status(line)
		}
	}
	if !d.stopSent {
		_ = d.notify.Stopping()
	}
	d.hw.close("orderly exit")
	d.log.Info("stopped", "why", "orderly shutdown complete")
	return d.exitErr
}

// pet sends WATCHDOG=1 from the decision loop only: if the loop stalls, the
// pings stop and systemd restarts the daemon.
func (d *Daemon) pet() {
	if d.wdInterval <= 0 {
		return
	}
	if now := time.Now(); now.Sub(d.lastWD) >= d.wdInterval {
		d.lastWD = now
		_ = d.notify.Watchdog()
	}
}

// extendEvery is how often a stopping daemon asks systemd for more time, and
// extendBy how much: the daemon bounds its stops itself (each resource's stop
// timeout), so systemd's TimeoutStopSec only has to cover a hung daemon.
const (
	extendEvery = time.Second
	extendBy    = 5 * time.Second
)

// stopping tells systemd about an orderly shutdown: STOPPING=1 once, then
// EXTEND_TIMEOUT_USEC while groups are still being stopped.
func (d *Daemon) stopping() {
	if !d.m.Status().ShuttingDown {
		return
	}
	if !d.stopSent {
		d.stopSent = true
		_ = d.notify.Stopping()
	}
	busy := false
	for _, b := range d.busy {
		busy = busy || b
	}
	if now := time.Now(); busy && now.Sub(d.lastExtend) >= extendEvery {
		d.lastExtend = now
		_ = d.notify.ExtendTimeout(extendBy)
	}
}

// settled: every group has been probed (the core acts only after that).
func (d *Daemon) settled() bool {
	for _, g := range d.m.Status().Groups {
		if g.Role == "" {
			return false
		}
	}
	return d.m.Now() > 0
}

func (d *Daemon) coreConfig(forceMain bool) core.Config {
	p := d.plan
	cfg := core.Config{
		Self: d.self, Peer: d.peer, Epoch: d.epoch,
		Links:               d.linkNames(),
		KeepaliveTicks:      p.Ticks.Keepalive,
		WarnTicks:           p.Ticks.Warn,
		DeadTicks:           p.Ticks.Dead,
		InitdeadTicks:       p.Ticks.Initdead,
		AutoFailback:        p.Failover.AutoFailback,
		PingConfigured:      len(p.Failover.PingTargets) > 0,
		MaxTakeovers:        p.Failover.MaxTakeovers,
		FlapWindowTicks:     p.Ticks.FlapWindow,
		ForceMain:           forceMain,
		PeerProbe:           p.Peer(d.self).PublicAddr != "",
		IsolationStop:       p.Failover.OnIsolation == "stop",
		IsolationGraceTicks: p.Ticks.IsolationGrace,
	}
	tick := p.Timing.Tick
	for _, g := range p.Groups {
		cfg.Groups = append(cfg.Groups, core.GroupConfig{
			Name: g.Name, Preferred: g.Preferred, MaxRestarts: g.MaxRestarts,
			RestartWindowTicks: int((g.RestartWindow + tick - 1) / tick),
		})
	}
	return cfg
}

func (d *Daemon) buildResources() error {
	d.groups = map[string]dsl.Group{}
	d.res = map[string]map[string]resources.Resource{}
	var errs []error
	for _, g := range d.plan.Groups {
		d.groups[g.Name] = g
		d.res[g.Name] = map[string]resources.Resource{}
		for _, spec := range g.Resources {
			r, err := resources.New(spec, d.plan.Tools, d.run)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %s resource %s: %w", g.Name, spec.Name, err))
				continue
			}
			if db, ok := r.(*resources.Database); ok {
				db.SetNodes(d.self, d.peer)
			}
			d.res[g.Name][spec.Name] = r
		}
	}
	return errors.Join(errs...)
}

func (d *Daemon) openLinks(key []byte) error {
	codec := link.NewCodec(key, d.plan.Cluster, d.self)
	me, _ := d.plan.NodeByName(d.self)
	peer := d.plan.Peer(d.self)
	add := func(name string, t link.Transport, err error) error {
		if err != nil {
			return fmt.Errorf("open link %s: %w", name, err)
		}
		d.links = append(d.links, link.NewLink(name, t, codec))
		return nil
	}
	t, err := link.NewUDP(me.Address, peer.Address)
	if err := add("udp", t, err); err != nil {
		return err
	}
	if d.plan.Links.UDP2 {
		t, err := link.NewUDP(me.Address2, peer.Address2)
		if err := add("udp2", t, err); err != nil {
			return err
		}
	}
	if d.plan.Links.Serial {
		baud := me.SerialBaud
		if baud == 0 {
			baud = d.plan.Links.SerialBaud
		}
		t, err := link.NewSerial(me.SerialDevice, baud)
		if err := add("serial", t, err); err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) closeLinks() {
	for _, l := range d.links {
		_ = l.Close()
	}
}

func (d *Daemon) linkNames() []string {
	var names []string
	for _, l := range d.links {
		names = append(names, l.Name())
	}
	return names
}

// signal maps a Unix signal to an operator command (jhad semantics).
func (d *Daemon) signal(s os.Signal) []core.Action {
	switch s {
	case syscall.SIGHUP:
		d.log.Info("SIGHUP: going to standby", "why", "operator signal")
		return d.m.Step(core.Command{Op: core.CmdStandby})
	case syscall.SIGUSR1:
		d.log.Info("SIGUSR1: taking over", "why", "operator signal")
		return d.m.Step(core.Command{Op: core.CmdTakeover})
	case syscall.SIGUSR2:
		if err := d.reload(); err != nil {
			d.log.Error("reload refused: the old configuration stays in force", "why", err.Error())
		}
		return nil
	default:
		d.log.Info(fmt.Sprintf("%s: orderly shutdown", s), "why", "operator signal")
		return d.m.Step(core.Command{Op: core.CmdShutdown})
	}
}

// do carries out the core's actions in order. It returns true on Exit.
func (d *Daemon) do(ctx context.Context, acts []core.Action) bool {
	persistFailed := false
	for _, a := range acts {
		switch a := a.(type) {
		case core.Report:
			d.logReport(a)
		case core.Persist:
			if err := statefile.Save(filepath.Join(d.plan.StateDir, stateFile), a.State); err != nil {
				// Persist before announce: without the write, nothing of this
				// state may reach the peer.
				persistFailed = true
				d.log.Error("cannot persist state; not announcing it", "why", err.Error())
			}
		case core.Send:
			if persistFailed {
				continue
			}
			d.send(a.State)
		case core.StartGroup:
			d.startGroup(ctx, a)
		case core.StopGroup:
			d.stopGroup(ctx, a)
		case core.RestartResource:
			d.restart(ctx, a)
		case core.FencePeer:
			go func() {
				err := d.fence.FencePeer(ctx, a.Why)
				ev := core.FenceDone{OK: err == nil, Why: "peer fence in place"}
				if err != nil {
					ev.Why = err.Error()
				}
				d.events <- ev
			}()
		case core.SelfFence:
			d.selfFence(ctx, a.Groups, a.Why)
		case core.ProbeGroups:
			d.probeAll(ctx)
		case core.ProbePeer:
			go d.probePeer(ctx)
		case core.Exit:
			return true
		default:
			d.log.Error("unknown action from the core", "action", fmt.Sprintf("%T", a))
		}
	}
	return false
}

func (d *Daemon) logReport(r core.Report) {
	d.metrics.decisions.WithLabelValues(r.Event, r.Level.String()).Inc()
	args := []any{"event", r.Event, "why", r.Why}
	if r.Group != "" {
		args = append(args, "group", r.Group)
	}
	switch r.Level {
	case core.Error:
		d.log.Error(r.Msg, args...)
	case core.Warn:
		d.log.Warn(r.Msg, args...)
	default:
		d.log.Info(r.Msg, args...)
	}
}

func (d *Daemon) send(s core.NodeState) {
	body, err := encodeState(s)
	if err != nil {
		d.log.Error("cannot encode heartbeat", "why", err.Error())
		return
	}
	d.seq++
	kind := link.Heartbeat
	if s.Leaving {
		kind = link.Goodbye
	}
	msg := link.Message{Cluster: d.plan.Cluster, From: d.self, Epoch: d.epoch, Seq: d.seq, Kind: kind, Body: body}
	for _, l := range d.links {
		_ = l.Send(msg) // counted per link; a down link is a degraded state, not an error here
	}
}

// --- workers ----------------------------------------------------------------

func (d *Daemon) scheduler(group string) *resources.Scheduler {
	return &resources.Scheduler{
		Parallel: d.plan.Parallel,
		OnEvent: func(ev resources.Event) {
			d.mu.Lock()
			defer d.mu.Unlock()
			detail := ""
			if ev.Err != nil {
				detail = ev.Err.Error()
			}
			d.setResLocked(ev.Res, ev.State.String(), detail)
			if ev.Op != "probe" {
				d.progress[group] = fmt.Sprintf("%s %d/%d", map[string]string{"start": "starting", "stop": "stopping"}[ev.Op], ev.Done, ev.Total)
			}
		},
	}
}

func (d *Daemon) setResLocked(name, state, detail string) {
	old := d.resState[name]
	if old.State != state || old.Since.IsZero() {
		old.Since = time.Now()
	}
	old.State, old.Detail = state, detail
	d.resState[name] = old
}

func (d *Daemon) startGroup(ctx context.Context, a core.StartGroup) {
	g := d.groups[a.Group]
	d.busy[a.Group] = true
	delete(d.isolating, a.Group) // an operator's decision ends the isolation's stop
	if a.Force {
		d.log.Warn("starting with --force: the database replication gate is overridden", "group", g.Name, "why", "operator takeover --force")
	}
	if a.Force {
		ctx = resources.WithForce(ctx)
	}
	losing := "" // another group whose resources may still run here, cut off
	for _, gs := range d.m.Status().Groups {
		if gs.Name != g.Name && (gs.Role == core.Failed.String() || gs.Role == core.Stopping.String()) {
			losing = gs.Name
		}
	}
	go func() {
		d.liftSelfFence(ctx, g.Name, losing)
		began := time.Now()
		err := d.scheduler(g.Name).Start(ctx, g, d.res[g.Name])
		d.metrics.opSeconds.WithLabelValues(g.Name, "start", result(err)).Observe(time.Since(began).Seconds())
		d.logGates(g)
		ev := core.GroupDone{Group: g.Name, Op: core.OpStart, RolledBack: true}
		if err != nil {
			ev.Err = err.Error()
			ev.Refused = resources.IsRefusal(err)
			var ge *resources.GroupError
			if errors.As(err, &ge) && ge.Rollback != nil {
				ev.RolledBack = false
			}
		}
		d.events <- ev
	}()
}

// logGates logs the replication gate's verdict of every database resource
// of the group after a start: allowed, refused, or forced past.
func (d *Daemon) logGates(g dsl.Group) {
	for name, r := range d.res[g.Name] {
		gate := gateReport(r)
		if gate == nil {
			continue
		}
		args := []any{"group", g.Name, "res", name, "lag-bytes", gate.LagBytes, "lag-seconds", gate.LagSeconds, "lag-transactions", gate.LagTransactions}
		switch gate.Verdict {
		case "forced":
			d.log.Warn("database promoted past the replication gate by --force", append(args, "why", strings.Join(gate.Reasons, "; "))...)
		case "allowed":
			d.log.Info("replication gate allowed the promotion", append(args, "why", "replica caught up within the limits")...)
		default:
			d.log.Warn("replication gate refused the promotion", append(args, "why", strings.Join(gate.Reasons, "; "))...)
		}
	}
}

func (d *Daemon) stopGroup(ctx context.Context, a core.StopGroup) {
	group := a.Group
	g := d.groups[group]
	d.busy[group] = true
	if a.Immediate {
		d.log.Warn("immediate stop: domains are destroyed, not shut down", "group", group, "why", "this node is isolated; its peer takes the group over")
		ctx = resources.WithImmediateStop(ctx)
		d.isolating[group] = true
	}
	go func() {
		began := time.Now()
		err := d.scheduler(group).Stop(ctx, g, d.res[group])
		d.metrics.opSeconds.WithLabelValues(group, "stop", result(err)).Observe(time.Since(began).Seconds())
		ev := core.GroupDone{Group: group, Op: core.OpStop}
		if err != nil {
			ev.Err = err.Error()
		}
		d.events <- ev
	}()
}

func (d *Daemon) restart(ctx context.Context, a core.RestartResource) {
	r := d.res[a.Group][a.Resource]
	d.busy[a.Group] = true
	go func() {
		ev := core.RestartDone{Group: a.Group, Resource: a.Resource}
		if r == nil {
			ev.Err = "no such resource"
		} else if err := r.Start(ctx); err != nil {
			ev.Err = err.Error()
		}
		d.events <- ev
	}()
}

// workerDone updates the daemon's own bookkeeping for a finished worker.
func (d *Daemon) workerDone(ev core.Event) {
	switch e := ev.(type) {
	case core.GroupDone:
		d.busy[e.Group] = false
		if e.Op == core.OpStop && e.Err == "" {
			delete(d.isolating, e.Group) // stopped in time: nothing to reset for
		}
		d.mu.Lock()
		delete(d.progress, e.Group)
		d.mu.Unlock()
	case core.RestartDone:
		d.busy[e.Group] = false
	case core.ProbeDone:
		d.monitoring[e.Group] = false
	case core.ResourceFailed:
		d.monitoring[e.Group] = false
	}
}

// probeAll probes every group; ProbeDone events follow.
func (d *Daemon) probeAll(ctx context.Context) {
	for _, g := range d.plan.Groups {
		d.monitoring[g.Name] = true
		go func(g dsl.Group) {
			st := d.scheduler(g.Name).Probe(ctx, g, d.res[g.Name])
			running, total := 0, 0
			for _, spec := range g.Resources {
				if !spec.Exclusive() {
					continue
				}
				total++
				if st[spec.Name].State == resources.Running {
					running++
				}
			}
			d.events <- core.ProbeDone{Group: g.Name, Running: running, Total: total}
		}(g)
	}
}

// monitor probes the exclusive resources of every ACTIVE group that has no
// operation in flight; the first one found not running is reported.
func (d *Daemon) monitor(ctx context.Context) {
	if d.m.Maintenance() {
		return
	}
	for _, g := range d.plan.Groups {
		if d.m.Role(g.Name) != core.Active || d.busy[g.Name] || d.monitoring[g.Name] {
			continue
		}
		d.monitoring[g.Name] = true
		go func(g dsl.Group) {
			st := d.scheduler(g.Name).Probe(ctx, g, d.res[g.Name])
			d.mu.Lock()
			for name, s := range st {
				d.setResLocked(name, s.State.String(), s.Detail)
			}
			d.mu.Unlock()
			for _, spec := range g.Resources {
				if !spec.Exclusive() || !spec.Monitor {
					continue
				}
				if s := st[spec.Name]; s.State != resources.Running {
					d.events <- core.ResourceFailed{Group: g.Name, Resource: spec.Name, Why: fmt.Sprintf("%s: %s", s.State, s.Detail)}
					return
				}
			}
			d.events <- monitorDone{group: g.Name}
		}(g)
	}
}

// refresher is a resource that must be renewed while it runs (a service
// address with a kernel lifetime: the dead-man switch).
type refresher interface {
	Refresh(ctx context.Context) error
}

// observer learns from the peer's side what a later takeover is measured
// against (the database writer's last position).
type observer interface {
	Observe(ctx context.Context) error
}

// refresh renews the refreshable resources of every ACTIVE group from the
// decision loop's own ticks: a daemon that is killed or hangs stops renewing,
// and the kernel drops the address by itself.
func (d *Daemon) refresh(ctx context.Context) {
	if d.refreshing.Load() {
		return
	}
	type job struct {
		group, name string
		rf          refresher
	}
	var todo []job
	var observe []observer
	for _, g := range d.plan.Groups {
		if d.m.Role(g.Name) != core.Active {
			for _, r := range d.res[g.Name] {
				if o, ok := r.(observer); ok && d.m.Now()%max(d.plan.Ticks.Monitor, 1) == 0 {
					observe = append(observe, o)
				}
			}
			continue
		}
		for name, r := range d.res[g.Name] {
			if rf, ok := r.(refresher); ok {
				todo = append(todo, job{g.Name, name, rf})
			}
		}
	}
	if len(observe) > 0 {
		go func() {
			for _, o := range observe {
				_ = o.Observe(ctx) // the peer's server may be down: nothing to learn then
			}
		}()
	}
	if len(todo) == 0 {
		return
	}
	d.refreshing.Store(true)
	go func() {
		defer d.refreshing.Store(false)
		for _, j := range todo {
			err := j.rf.Refresh(ctx)
			switch {
			case errors.Is(err, resources.ErrAddressGone):
				// It lapsed (the loop was late): the monitor's decision,
				// restart locally or fail over, applies.
				d.events <- core.ResourceFailed{Group: j.group, Resource: j.name, Why: err.Error()}
			case err != nil:
				d.log.Warn("refresh failed", "group", j.group, "res", j.name, "why", err.Error())
			}
		}
	}()
}

// monitorDone ends a monitor pass that found everything running. It is an
// event of the daemon, not of the core.
type monitorDone struct{ group string }

// probePeer pings the peer's public address: a host that answers there is
// partitioned from us, not dead.
func (d *Daemon) probePeer(ctx context.Context) {
	addr := d.plan.Peer(d.self).PublicAddr
	ok, why := d.pingOnce(ctx, addr)
	select {
	case d.events <- core.PeerProbeDone{Answers: ok, Why: why}:
	case <-ctx.Done():
	}
}

// pingOnce sends one ICMP echo with the system's ping (run by argv).
func (d *Daemon) pingOnce(ctx context.Context, addr string) (bool, string) {
	timeout := d.plan.Failover.PingTimeout
	wait := strconv.FormatFloat(max(timeout, 10*time.Millisecond).Seconds(), 'f', -1, 64) // iputils accepts fractions
	_, err := d.run.Run(ctx, runner.Cmd{Path: "ping", Args: []string{"-n", "-c", "1", "-W", wait, addr}, Timeout: timeout + 2*time.Second})
	if err != nil {
		return false, fmt.Sprintf("ping %s: %v", addr, err)
	}
	return true, "ping " + addr + " answered"
}

// ping runs the tie-breaker: any target answering counts as reachable.
func (d *Daemon) ping(ctx context.Context) {
	ok := false
	for _, target := range d.plan.Failover.PingTargets {
		if ok, _ = d.pingOnce(ctx, target); ok {
			break
		}
	}
	select {
	case d.events <- core.PingResult{Reachable: ok}:
	case <-ctx.Done():
	}
}

// --- status -----------------------------------------------------------------

// statusLine is the one-line STATUS= for systemd.
func (d *Daemon) statusLine() string {
	st := d.m.Status()
	var parts []string
	var groups []string
	for _, g := range st.Groups {
		s := g.Name + " " + g.Role
		d.mu.Lock()
		if p := d.progress[g.Name]; p != "" {
			s += " (" + p + ")"
		}
		d.mu.Unlock()
		groups = append(groups, s)
	}
	parts = append(parts, strings.Join(groups, ", "))
	peer := "peer " + st.Peer.Node + " "
	switch {
	case st.Peer.Alive:
		var up, down []string
		for _, l := range st.Links {
			if l.Up {
				up = append(up, l.Name)
			} else {
				down = append(down, l.Name)
			}
		}
		peer += "alive via " + strings.Join(up, ",")
		if len(down) > 0 {
			peer += " (DEGRADED: " + strings.Join(down, ",") + " down)"
		}
	case st.Peer.Left:
		peer += "left"
	case st.Peer.Known:
		peer += "DEAD"
	default:
		peer += "not seen yet"
	}
	parts = append(parts, peer)
	if st.Maintenance {
		parts = append(parts, "MAINTENANCE")
	}
	if st.FlapHold {
		parts = append(parts, "FLAP-HOLD")
	}
	return strings.Join(parts, "; ")
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

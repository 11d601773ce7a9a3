package resources

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"xhad/dsl"
)

// world is an in-memory set of fake resources that checks, at every
// operation, the orderings the scheduler promises.
type world struct {
	mu   sync.Mutex
	cond *sync.Cond

	after     map[string][]string
	exclusive map[string]bool
	state     map[string]State

	starts, stops, probes map[string]int
	log                   []string // "start x", "stop x", in order of completion
	violations            []string

	inflight, maxInflight int // operations of kind gateOp under way
	waiting               int // operations blocked on the gate

	failStart, failStop, failProbe map[string]error

	gateOp string        // "start", "stop" or "probe": that kind waits for a token
	gate   chan struct{} // tokens handed out by drive
	delay  time.Duration // simulated work per start/stop (benchmark)
}

// group builds a dsl.Group from "name" or "name<-dep1,dep2" items, in file
// order. A name starting with '~' is not exclusive (a Xen domain in mode both).
func group(items ...string) (dsl.Group, *world) {
	w := &world{after: map[string][]string{}, exclusive: map[string]bool{}, state: map[string]State{},
		starts: map[string]int{}, stops: map[string]int{}, probes: map[string]int{},
		failStart: map[string]error{}, failStop: map[string]error{}, failProbe: map[string]error{}}
	w.cond = sync.NewCond(&w.mu)
	g := dsl.Group{Name: "g"}
	for _, item := range items {
		name, deps, _ := strings.Cut(item, "<-")
		exclusive := !strings.HasPrefix(name, "~")
		name = strings.TrimPrefix(name, "~")
		spec := dsl.Resource{Name: name, Kind: dsl.KindXen, Xen: &dsl.XenSpec{Domain: name, Mode: dsl.XenExclusive}}
		if !exclusive {
			spec.Xen.Mode = dsl.XenBoth
		}
		if deps != "" {
			spec.After = strings.Split(deps, ",")
		}
		g.Resources = append(g.Resources, spec)
		w.after[name] = spec.After
		w.exclusive[name] = exclusive
		w.state[name] = Stopped
	}
	return g, w
}

func (w *world) resources() map[string]Resource {
	rs := make(map[string]Resource, len(w.state))
	for name := range w.state {
		rs[name] = &fakeRes{w: w, name: name}
	}
	return rs
}

func (w *world) setAll(st State) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name := range w.state {
		w.state[name] = st
	}
}

func (w *world) set(st State, names ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, name := range names {
		w.state[name] = st
	}
}

func (w *world) get(name string) State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state[name]
}

// enter records an operation; it runs with w.mu held.
func (w *world) enter(op string) {
	if op == w.gateOp {
		w.inflight++
		w.maxInflight = max(w.maxInflight, w.inflight)
		w.cond.Broadcast()
	}
}

func (w *world) leave(op string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if op == w.gateOp {
		w.inflight--
		w.cond.Broadcast()
	}
}

// work blocks on the gate (when op is gated) and simulates the delay.
func (w *world) work(ctx context.Context, op string) error {
	if w.delay > 0 {
		time.Sleep(w.delay) // simulated work of the benchmark, not a wait for a condition
	}
	if op != w.gateOp || w.gate == nil {
		return nil
	}
	w.mu.Lock()
	w.waiting++
	w.cond.Broadcast()
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.waiting--
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	select {
	case <-w.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drive hands out n gate tokens, one whenever min(limit, not yet released)
// operations are waiting, and fails when that does not happen in time.
func (w *world) drive(n, limit int, timeout time.Duration) error {
	return w.driveWant(n, func(released int) int { return min(limit, n-released) }, timeout)
}

// driveWant hands out n gate tokens, the next one once want(released)
// operations are waiting. When that does not happen in time it opens the gate
// for good (so the run under test can finish) and reports what it saw.
func (w *world) driveWant(n int, want func(released int) int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	for released := 0; released < n; released++ {
		want := want(released)
		w.mu.Lock()
		for w.waiting < want {
			if !time.Now().Before(deadline) {
				seen, maxSeen := w.waiting, w.maxInflight
				w.mu.Unlock()
				close(w.gate)
				return fmt.Errorf("after %d of %d released: %d operations waiting, want %d (max in flight %d)",
					released, n, seen, want, maxSeen)
			}
			w.cond.Wait()
		}
		w.mu.Unlock()
		w.gate <- struct{}{}
	}
	return nil
}

type fakeRes struct {
	w    *world
	name string
}

func (r *fakeRes) Name() string    { return r.name }
func (r *fakeRes) Kind() dsl.Kind  { return dsl.KindXen }
func (r *fakeRes) Exclusive() bool { return r.w.exclusive[r.name] }

func (r *fakeRes) Start(ctx context.Context) error {
	w := r.w
	w.mu.Lock()
	w.enter("start")
	for _, dep := range w.after[r.name] {
		if w.state[dep] != Running {
			w.violations = append(w.violations, fmt.Sprintf("start %s while %s is %s", r.name, dep, w.state[dep]))
		}
	}
	w.mu.Unlock()
	defer w.leave("start")
	if err := w.work(ctx, "start"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.starts[r.name]++
	w.log = append(w.log, "start "+r.name)
	if err := w.failStart[r.name]; err != nil {
		return err
	}
	w.state[r.name] = Running
	return nil
}

func (r *fakeRes) Stop(ctx context.Context) error {
	w := r.w
	w.mu.Lock()
	w.enter("stop")
	for other, deps := range w.after {
		if slices.Contains(deps, r.name) && w.state[other] == Running {
			w.violations = append(w.violations, fmt.Sprintf("stop %s while %s, which depends on it, is running", r.name, other))
		}
	}
	w.mu.Unlock()
	defer w.leave("stop")
	if err := w.work(ctx, "stop"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stops[r.name]++
	w.log = append(w.log, "stop "+r.name)
	if err := w.failStop[r.name]; err != nil {
		return err
	}
	w.state[r.name] = Stopped
	return nil
}

func (r *fakeRes) Probe(ctx context.Context) (Status, error) {
	w := r.w
	w.mu.Lock()
	w.enter("probe")
	w.mu.Unlock()
	defer w.leave("probe")
	if err := w.work(ctx, "probe"); err != nil {
		return Status{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.probes[r.name]++
	if err := w.failProbe[r.name]; err != nil {
		return Status{}, err
	}
	return Status{State: w.state[r.name], Detail: "fake"}, nil
}

// check fails on ordering violations and returns a summary for messages.
func (w *world) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.violations) > 0 {
		t.Fatalf("ordering violations: %q\nlog: %q", w.violations, w.log)
	}
}

func (w *world) snapshot() (log []string, state map[string]State) {
	w.mu.Lock()
	defer w.mu.Unlock()
	state = make(map[string]State, len(w.state))
	for k, v := range w.state {
		state[k] = v
	}
	return append([]string(nil), w.log...), state
}

func names(g dsl.Group) []string {
	var out []string
	for _, r := range g.Resources {
		out = append(out, r.Name)
	}
	return out
}

func prefixed(prefix string, ns []string) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = prefix + n
	}
	return out
}

func reversed(ns []string) []string {
	out := slices.Clone(ns)
	slices.Reverse(out)
	return out
}

// Graphs in dependency-respecting file order.
var fixtures = map[string][]string{
	"chain":       {"a", "b<-a", "c<-b", "d<-c", "e<-d"},
	"lvm on drbd": {"drbd", "lvm<-drbd", "dom1<-lvm", "dom2<-lvm", "dom3<-lvm", "dom4<-lvm", "dom5<-lvm", "dom6<-lvm"},
	"diamond":     {"a", "b<-a", "c<-a", "d<-b,c"},
	"two stacks":  {"drbd1", "drbd2", "lvm1<-drbd1", "lvm2<-drbd2", "x1<-lvm1", "y1<-lvm2", "x2<-lvm1", "y2<-lvm2"},
	"independent": {"p", "q", "r", "s", "t", "u"},
}

func TestStartRespectsAfter(t *testing.T) {
	for fixture, items := range fixtures {
		for _, limit := range []int{1, 2, 4, 16} {
			t.Run(fmt.Sprintf("%s/parallel=%d", fixture, limit), func(t *testing.T) {
				g, w := group(items...)
				var events []Event
				s := &Scheduler{Parallel: limit, OnEvent: func(ev Event) { events = append(events, ev) }}
				if err := s.Start(context.Background(), g, w.resources()); err != nil {
					t.Fatalf("Start: %v", err)
				}
				w.check(t)
				log, state := w.snapshot()
				for _, name := range names(g) {
					if state[name] != Running || w.starts[name] != 1 {
						t.Fatalf("%s: state %s after %d starts, want running after 1 (log %q)", name, state[name], w.starts[name], log)
					}
				}
				if limit == 1 && !reflect.DeepEqual(log, prefixed("start ", names(g))) {
					t.Fatalf("serial start order %q, want file order", log)
				}
				checkProgress(t, events, "start", len(g.Resources), 0)
			})
		}
	}
}

// checkProgress asserts that the events of op count Done from first+1 up to
// Total, one at a time.
func checkProgress(t *testing.T, events []Event, op string, total, first int) {
	t.Helper()
	want := first
	for _, ev := range events {
		if ev.Op != op {
			continue
		}
		want++
		if ev.Done != want || ev.Total != total {
			t.Fatalf("%s event %+v: want Done %d of Total %d", op, ev, want, total)
		}
	}
	if want != total {
		t.Fatalf("%s events reached %d of %d", op, want, total)
	}
}

func TestStopReverseOrder(t *testing.T) {
	for fixture, items := range fixtures {
		for _, limit := range []int{1, 2, 4, 16} {
			t.Run(fmt.Sprintf("%s/parallel=%d", fixture, limit), func(t *testing.T) {
				g, w := group(items...)
				w.setAll(Running)
				var events []Event
				s := &Scheduler{Parallel: limit, OnEvent: func(ev Event) { events = append(events, ev) }}
				if err := s.Stop(context.Background(), g, w.resources()); err != nil {
					t.Fatalf("Stop: %v", err)
				}
				w.check(t)
				log, state := w.snapshot()
				for _, name := range names(g) {
					if state[name] != Stopped || w.stops[name] != 1 {
						t.Fatalf("%s: state %s after %d stops, want stopped after 1 (log %q)", name, state[name], w.stops[name], log)
					}
				}
				if limit == 1 && !reflect.DeepEqual(log, prefixed("stop ", reversed(names(g)))) {
					t.Fatalf("serial stop order %q, want reverse file order", log)
				}
				checkProgress(t, events, "stop", len(g.Resources), 0)
			})
		}
	}
}

func TestStopOrder(t *testing.T) {
	tests := []struct {
		name      string
		stopOrder []string
		want      []string
	}{
		{"explicit order is followed", []string{"dom3", "dom1", "dom2", "lvm", "drbd"}, []string{"dom3", "dom1", "dom2", "lvm", "drbd"}},
		{"dependencies win over the listed order", []string{"drbd", "lvm", "dom1", "dom2", "dom3"}, []string{"dom1", "dom2", "dom3", "lvm", "drbd"}},
		{"unlisted resources follow in reverse file order", []string{"dom2"}, []string{"dom2", "dom3", "dom1", "lvm", "drbd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, w := group("drbd", "lvm<-drbd", "dom1<-lvm", "dom2<-lvm", "dom3<-lvm")
			g.StopOrder = tt.stopOrder
			w.setAll(Running)
			if err := (&Scheduler{Parallel: 1}).Stop(context.Background(), g, w.resources()); err != nil {
				t.Fatal(err)
			}
			w.check(t)
			if log, _ := w.snapshot(); !reflect.DeepEqual(log, prefixed("stop ", tt.want)) {
				t.Fatalf("stop log %q, want %q", log, prefixed("stop ", tt.want))
			}
		})
	}
}

func TestExplicitStopOrderStopsOneAtATime(t *testing.T) {
	order := []string{"dom2", "dom3", "dom1", "lvm", "drbd"}
	for _, explicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("explicit=%v", explicit), func(t *testing.T) {
			g, w := group("drbd", "lvm<-drbd", "dom1<-lvm", "dom2<-lvm", "dom3<-lvm")
			g.StopOrder, g.ExplicitStopOrder = order, explicit
			w.setAll(Running)
			w.gateOp, w.gate = "stop", make(chan struct{})
			// Three domains can stop together, then lvm, then drbd; an
			// explicit order allows one at a time.
			waves := []int{3, 2, 1, 1, 1}
			if explicit {
				waves = []int{1, 1, 1, 1, 1}
			}
			drove := make(chan error, 1)
			go func() { drove <- w.driveWant(len(order), func(r int) int { return waves[r] }, 10*time.Second) }()
			err := (&Scheduler{Parallel: 4}).Stop(context.Background(), g, w.resources())
			if derr := <-drove; derr != nil {
				t.Fatalf("driver: %v", derr)
			}
			if err != nil {
				t.Fatal(err)
			}
			w.check(t)
			if w.maxInflight != waves[0] {
				t.Fatalf("%d stops ran at once, want %d", w.maxInflight, waves[0])
			}
			if log, _ := w.snapshot(); explicit && !reflect.DeepEqual(log, prefixed("stop ", order)) {
				t.Fatalf("stop log %q, want exactly %q", log, order)
			}
		})
	}
}

func TestParallelLimit(t *testing.T) {
	const n = 12
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("dom%02d", i)
	}
	for _, op := range []string{"start", "stop", "probe"} {
		for _, limit := range []int{1, 2, 5, n} {
			t.Run(fmt.Sprintf("%s/parallel=%d", op, limit), func(t *testing.T) {
				g, w := group(items...)
				w.gateOp, w.gate = op, make(chan struct{})
				if op == "stop" {
					w.setAll(Running)
				}
				drove := make(chan error, 1)
				go func() { drove <- w.drive(n, limit, 10*time.Second) }()
				s := &Scheduler{Parallel: limit}
				var err error
				switch op {
				case "start":
					err = s.Start(context.Background(), g, w.resources())
				case "stop":
					err = s.Stop(context.Background(), g, w.resources())
				case "probe":
					if got := s.Probe(context.Background(), g, w.resources()); len(got) != n {
						err = fmt.Errorf("probe returned %d statuses", len(got))
					}
				}
				if derr := <-drove; derr != nil {
					t.Fatalf("driver: %v", derr)
				}
				if err != nil {
					t.Fatal(err)
				}
				if w.maxInflight != limit {
					t.Fatalf("at most %d %s operations ran at once, want exactly the limit %d", w.maxInflight, op, limit)
				}
			})
		}
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		scheduler, group int
		strict           bool
		ops, probes      int
	}{
		{0, 0, false, 1, 1},
		{8, 0, false, 8, 8},
		{0, 4, false, 4, 4},
		{8, 4, false, 4, 4},
		{3, 16, false, 3, 3},
		{-1, 5, false, 5, 5},
		{8, 4, true, 1, 4},
	}
	for _, tt := range tests {
		s := &Scheduler{Parallel: tt.scheduler}
		ops, probes := s.limits(dsl.Group{Parallel: tt.group, StrictOrder: tt.strict})
		if ops != tt.ops || probes != tt.probes {
			t.Errorf("limits(scheduler %d, group %d, strict %v) = %d, %d; want %d, %d",
				tt.scheduler, tt.group, tt.strict, ops, probes, tt.ops, tt.probes)
		}
	}
}

func TestStartRollbackAtEveryPosition(t *testing.T) {
	for _, fixture := range []string{"chain", "lvm on drbd", "diamond", "two stacks"} {
		items := fixtures[fixture]
		for _, limit := range []int{1, 4} {
			for pos := range items {
				g, _ := group(items...)
				failing := g.Resources[pos].Name
				t.Run(fmt.Sprintf("%s/parallel=%d/%s", fixture, limit, failing), func(t *testing.T) {
					g, w := group(items...)
					cause := fmt.Errorf("xl create: exit code 3: %s is broken", failing)
					w.failStart[failing] = cause
					var events []Event
					s := &Scheduler{Parallel: limit, OnEvent: func(ev Event) { events = append(events, ev) }}
					err := s.Start(context.Background(), g, w.resources())
					var ge *GroupError
					if !errors.As(err, &ge) || !errors.Is(err, cause) {
						t.Fatalf("Start error %v: want a *GroupError wrapping the cause", err)
					}
					if len(ge.Failures) != 1 || ge.Failures[0].Res != failing || ge.Rollback != nil {
						t.Fatalf("GroupError %+v: want exactly %s failed and a clean rollback", ge, failing)
					}
					if !strings.Contains(err.Error(), failing+": ") || !strings.Contains(err.Error(), "rolled back") {
						t.Fatalf("error text %q does not name %s and the rollback", err, failing)
					}
					w.check(t)
					log, state := w.snapshot()
					for name, st := range state {
						if st == Running {
							t.Fatalf("%s still running after the rollback (log %q)", name, log)
						}
						if w.stops[name] != w.starts[name] {
							t.Fatalf("%s: started %d times, stopped %d times; the rollback stops exactly what was tried (log %q)",
								name, w.starts[name], w.stops[name], log)
						}
					}
					// Nothing that depends on the failing resource was tried.
					for _, spec := range g.Resources {
						if dependsOn(g, spec.Name, failing) && w.starts[spec.Name] > 0 {
							t.Fatalf("%s depends on %s yet was started (log %q)", spec.Name, failing, log)
						}
					}
					if limit == 1 {
						want := append(prefixed("start ", names(g)[:pos+1]), prefixed("stop ", reversed(names(g)[:pos+1]))...)
						if !reflect.DeepEqual(log, want) {
							t.Fatalf("serial log %q, want %q", log, want)
						}
					}
					for _, ev := range events {
						if ev.Op == "start" && ev.Res == failing && (ev.State != Failed || !errors.Is(ev.Err, cause)) {
							t.Fatalf("event for the failing start: %+v", ev)
						}
					}
				})
			}
		}
	}
}

// dependsOn reports whether a depends on b, directly or not.
func dependsOn(g dsl.Group, a, b string) bool {
	after := map[string][]string{}
	for _, r := range g.Resources {
		after[r.Name] = r.After
	}
	var visit func(string) bool
	visit = func(x string) bool {
		for _, d := range after[x] {
			if d == b || visit(d) {
				return true
			}
		}
		return false
	}
	return visit(a)
}

func TestStartStopsNewStartsAfterAFailure(t *testing.T) {
	// p fails first; with one operation at a time nothing else may start.
	g, w := group(fixtures["independent"]...)
	w.failStart["p"] = errors.New("boom")
	err := (&Scheduler{Parallel: 1}).Start(context.Background(), g, w.resources())
	if err == nil {
		t.Fatal("Start succeeded")
	}
	if log, _ := w.snapshot(); !reflect.DeepEqual(log, []string{"start p", "stop p"}) {
		t.Fatalf("log %q, want only p tried and rolled back", log)
	}
}

func TestStartAdoptsRunning(t *testing.T) {
	g, w := group(fixtures["lvm on drbd"]...)
	w.set(Running, "drbd", "lvm", "dom2")
	var events []Event
	s := &Scheduler{Parallel: 3, OnEvent: func(ev Event) { events = append(events, ev) }}
	if err := s.Start(context.Background(), g, w.resources()); err != nil {
		t.Fatal(err)
	}
	w.check(t)
	for _, name := range names(g) {
		want := 1
		if name == "drbd" || name == "lvm" || name == "dom2" {
			want = 0
		}
		if w.starts[name] != want || w.get(name) != Running || w.probes[name] != 1 {
			t.Fatalf("%s: %d starts (want %d), state %s, %d probes", name, w.starts[name], want, w.get(name), w.probes[name])
		}
	}
	checkProgress(t, events, "probe", len(g.Resources), 0)
	checkProgress(t, events, "start", len(g.Resources), 3)
}

func TestStartRollsBackAdoptedToo(t *testing.T) {
	g, w := group(fixtures["lvm on drbd"]...)
	w.set(Running, "drbd", "lvm", "dom1")
	w.failStart["dom4"] = errors.New("no memory")
	err := (&Scheduler{Parallel: 2}).Start(context.Background(), g, w.resources())
	if err == nil {
		t.Fatal("Start succeeded")
	}
	w.check(t)
	log, state := w.snapshot()
	for name, st := range state {
		if st == Running {
			t.Fatalf("%s still running: the group must not stay half up (log %q)", name, log)
		}
	}
	if w.stops["drbd"] != 1 || w.stops["lvm"] != 1 || w.stops["dom1"] != 1 {
		t.Fatalf("adopted resources not rolled back: log %q", log)
	}
}

func TestStartProbeFailureStillStarts(t *testing.T) {
	g, w := group("drbd", "lvm<-drbd")
	w.failProbe["lvm"] = errors.New("vgs: exit code 5")
	if err := (&Scheduler{}).Start(context.Background(), g, w.resources()); err != nil {
		t.Fatal(err)
	}
	if w.starts["lvm"] != 1 || w.get("lvm") != Running {
		t.Fatalf("lvm: %d starts, %s", w.starts["lvm"], w.get("lvm"))
	}
}

func TestStartRollbackFailureIsReported(t *testing.T) {
	g, w := group(fixtures["lvm on drbd"]...)
	w.failStart["dom5"] = errors.New("no memory")
	stopErr := errors.New("Logical volume vg0/dom1 in use")
	w.failStop["lvm"] = stopErr
	err := (&Scheduler{Parallel: 1}).Start(context.Background(), g, w.resources())
	var ge *GroupError
	if !errors.As(err, &ge) || ge.Rollback == nil {
		t.Fatalf("want a *GroupError with a rollback failure, got %v", err)
	}
	if !errors.Is(err, stopErr) || !strings.Contains(err.Error(), "rollback failed") ||
		!slices.Equal(ge.Rollback.NotStopped, []string{"drbd"}) {
		t.Fatalf("rollback failure not reported well: %v (%+v)", err, ge.Rollback)
	}
	w.check(t)
	if w.get("drbd") != Running || w.stops["drbd"] != 0 {
		t.Fatal("drbd was demoted under an LVM that did not stop")
	}
}

func TestStopSkipsBothMode(t *testing.T) {
	g, w := group("drbd", "lvm<-drbd", "web<-lvm", "~router", "mail<-lvm")
	w.setAll(Running)
	if err := (&Scheduler{Parallel: 2}).Stop(context.Background(), g, w.resources()); err != nil {
		t.Fatal(err)
	}
	w.check(t)
	if w.stops["router"] != 0 || w.get("router") != Running {
		t.Fatalf("the both-mode domain was touched: %d stops, %s", w.stops["router"], w.get("router"))
	}
	for _, name := range []string{"drbd", "lvm", "web", "mail"} {
		if w.get(name) != Stopped {
			t.Fatalf("%s not stopped", name)
		}
	}
}

func TestStopBothModeHoldsItsDependencies(t *testing.T) {
	g, w := group("drbd", "lvm<-drbd", "web<-lvm", "~router<-lvm", "ip")
	w.setAll(Running)
	err := (&Scheduler{Parallel: 2}).Stop(context.Background(), g, w.resources())
	var ge *GroupError
	if !errors.As(err, &ge) || len(ge.Failures) != 0 || !slices.Equal(ge.NotStopped, []string{"lvm", "drbd"}) {
		t.Fatalf("want lvm and drbd reported as not stopped, got %v", err)
	}
	if !strings.Contains(err.Error(), "not stopped: lvm, drbd") {
		t.Fatalf("error text: %v", err)
	}
	w.check(t)
	for name, want := range map[string]State{"router": Running, "lvm": Running, "drbd": Running, "web": Stopped, "ip": Stopped} {
		if got := w.get(name); got != want {
			t.Fatalf("%s is %s, want %s", name, got, want)
		}
	}
}

func TestFailedStopKeepsDependencies(t *testing.T) {
	tests := []struct {
		name        string
		fail        []string
		keepRunning []string // in stop order
	}{
		{"a domain", []string{"dom3"}, []string{"lvm", "drbd"}},
		{"two domains", []string{"dom2", "dom5"}, []string{"lvm", "drbd"}},
		{"the volume group", []string{"lvm"}, []string{"drbd"}},
		{"drbd itself", []string{"drbd"}, nil},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/parallel=%d", tt.name, limit), func(t *testing.T) {
				g, w := group(append(fixtures["lvm on drbd"], "ip")...)
				w.setAll(Running)
				var causes []error
				for _, name := range tt.fail {
					cause := fmt.Errorf("%s will not stop", name)
					causes = append(causes, cause)
					w.failStop[name] = cause
				}
				var events []Event
				s := &Scheduler{Parallel: limit, OnEvent: func(ev Event) { events = append(events, ev) }}
				err := s.Stop(context.Background(), g, w.resources())
				var ge *GroupError
				if !errors.As(err, &ge) {
					t.Fatalf("want a *GroupError, got %v", err)
				}
				for _, cause := range causes {
					if !errors.Is(err, cause) {
						t.Fatalf("error %v does not wrap %v", err, cause)
					}
				}
				var failed []string
				for _, f := range ge.Failures {
					failed = append(failed, f.Res)
				}
				slices.Sort(failed)
				if !slices.Equal(failed, tt.fail) || !slices.Equal(ge.NotStopped, tt.keepRunning) {
					t.Fatalf("failures %q not stopped %q; want %q and %q", failed, ge.NotStopped, tt.fail, tt.keepRunning)
				}
				w.check(t)
				log, state := w.snapshot()
				for _, name := range names(g) {
					want := Stopped
					if slices.Contains(tt.fail, name) || slices.Contains(tt.keepRunning, name) {
						want = Running
					}
					if state[name] != want {
						t.Fatalf("%s is %s, want %s (log %q)", name, state[name], want, log)
					}
				}
				for _, name := range tt.keepRunning {
					if w.stops[name] != 0 {
						t.Fatalf("%s was asked to stop under a resource that did not stop (log %q)", name, log)
					}
				}
				checkProgress(t, events, "stop", len(g.Resources), 0)
			})
		}
	}
}

func TestStopInterrupted(t *testing.T) {
	g, w := group(fixtures["lvm on drbd"]...)
	w.setAll(Running)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := 0
	s := &Scheduler{Parallel: 1, OnEvent: func(ev Event) {
		if ev.Op == "stop" && ev.State == Stopped {
			if stopped++; stopped == 2 {
				cancel()
			}
		}
	}}
	err := s.Stop(ctx, g, w.resources())
	var ge *GroupError
	if !errors.As(err, &ge) || !errors.Is(err, context.Canceled) {
		t.Fatalf("want an interrupted *GroupError, got %v", err)
	}
	w.check(t)
	log, state := w.snapshot()
	if len(log) != 2 || len(ge.NotStopped) != len(g.Resources)-2 {
		t.Fatalf("log %q, not stopped %q: want 2 stopped and the rest reported", log, ge.NotStopped)
	}
	for _, name := range ge.NotStopped {
		if state[name] != Running {
			t.Fatalf("%s reported not stopped but is %s", name, state[name])
		}
	}
}

func TestStartInterruptedRollsBack(t *testing.T) {
	g, w := group(fixtures["lvm on drbd"]...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &Scheduler{Parallel: 1, OnEvent: func(ev Event) {
		if ev.Op == "start" && ev.Res == "dom1" {
			cancel()
		}
	}}
	err := s.Start(ctx, g, w.resources())
	var ge *GroupError
	if !errors.As(err, &ge) || !errors.Is(err, context.Canceled) || ge.Rollback != nil {
		t.Fatalf("want an interrupted start with a clean rollback, got %v", err)
	}
	w.check(t)
	log, state := w.snapshot()
	for name, st := range state {
		if st == Running {
			t.Fatalf("%s running after an interrupted start (log %q)", name, log)
		}
	}
	want := []string{"start drbd", "start lvm", "start dom1", "stop dom1", "stop lvm", "stop drbd"}
	if !reflect.DeepEqual(log, want) {
		t.Fatalf("log %q, want %q", log, want)
	}
}

func TestSchedulerRejectsBadGroups(t *testing.T) {
	tests := []struct {
		name   string
		items  []string
		edit   func(*dsl.Group, map[string]Resource)
		errHas string
	}{
		{"cycle", []string{"a<-c", "b<-a", "c<-b"}, nil, "dependency cycle"},
		{"unknown dependency", []string{"a", "b<-zz"}, nil, "zz, which is not in the group"},
		{"after itself", []string{"a<-a"}, nil, "after itself"},
		{"duplicate", []string{"a", "a"}, nil, "appears twice"},
		{"missing object", []string{"a", "b"}, func(_ *dsl.Group, rs map[string]Resource) { delete(rs, "b") }, "no resource object for b"},
		{"unknown stop order name", []string{"a"}, func(g *dsl.Group, _ map[string]Resource) { g.StopOrder = []string{"zz"} }, "stop order names zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, w := group(tt.items...)
			rs := w.resources()
			if tt.edit != nil {
				tt.edit(&g, rs)
			}
			s := &Scheduler{Parallel: 2}
			for op, run := range map[string]func(context.Context, dsl.Group, map[string]Resource) error{"start": s.Start, "stop": s.Stop} {
				err := run(context.Background(), g, rs)
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.HasPrefix(err.Error(), op+" group g: ") {
					t.Fatalf("%s: error %v, want %q", op, err, tt.errHas)
				}
			}
			if log, _ := w.snapshot(); len(log) != 0 || len(w.probes) != 0 {
				t.Fatalf("operations ran on a bad group: %q, probes %v", log, w.probes)
			}
		})
	}
}

func TestSchedulerProbe(t *testing.T) {
	g, w := group("drbd", "lvm<-drbd", "web<-lvm", "gone")
	w.set(Running, "drbd", "lvm")
	w.failProbe["web"] = errors.New("xl list web: exit code 1: cannot open libxc handle")
	rs := w.resources()
	delete(rs, "gone")
	var events []Event
	s := &Scheduler{Parallel: 2, OnEvent: func(ev Event) { events = append(events, ev) }}
	got := s.Probe(context.Background(), g, rs)
	want := map[string]Status{
		"drbd": {Running, "fake"},
		"lvm":  {Running, "fake"},
		"web":  {Unknown, "xl list web: exit code 1: cannot open libxc handle"},
		"gone": {Unknown, "no resource object"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Probe\n got %+v\nwant %+v", got, want)
	}
	checkProgress(t, events, "probe", 3, 0)
	for _, ev := range events {
		if ev.Res == "web" && ev.Err == nil {
			t.Fatalf("probe event of web has no error: %+v", ev)
		}
	}
}

func TestGroupErrorText(t *testing.T) {
	cause := &Refusal{Resource: "data", Op: "start", Reason: "local disk is Outdated"}
	ge := &GroupError{Group: "g1", Op: "start", Failures: []ResourceError{{Res: "data", Err: cause}}}
	if got, want := ge.Error(), "start group g1: data: refusing to start data: local disk is Outdated; rolled back"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !IsRefusal(ge) {
		t.Fatal("a refusal inside a group error is not found by IsRefusal")
	}
	stop := &GroupError{Group: "g1", Op: "stop", Failures: []ResourceError{{Res: "web", Err: errors.New("xl destroy failed")}},
		NotStopped: []string{"lvm", "drbd"}}
	if got, want := stop.Error(), "stop group g1: web: xl destroy failed; not stopped: lvm, drbd"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// BenchmarkGroup starts and stops 200 fake domains over DRBD and LVM, each
// operation taking 2ms (the probes Start runs first included), one at a time
// and 16 at a time.
func BenchmarkGroup(b *testing.B) {
	items := []string{"drbd", "lvm<-drbd"}
	for i := range 200 {
		items = append(items, fmt.Sprintf("dom%03d<-lvm", i))
	}
	for _, limit := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallel=%d", limit), func(b *testing.B) {
			var startTotal, stopTotal time.Duration
			for b.Loop() {
				g, w := group(items...)
				w.delay = 2 * time.Millisecond
				s := &Scheduler{Parallel: limit}
				t0 := time.Now()
				if err := s.Start(context.Background(), g, w.resources()); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := s.Stop(context.Background(), g, w.resources()); err != nil {
					b.Fatal(err)
				}
				startTotal += t1.Sub(t0)
				stopTotal += time.Since(t1)
			}
			b.ReportMetric(float64(startTotal.Milliseconds())/float64(b.N), "start-ms/op")
			b.ReportMetric(float64(stopTotal.Milliseconds())/float64(b.N), "stop-ms/op")
		})
	}
}

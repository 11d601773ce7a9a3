package resources

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"xhad/dsl"
)

// Event reports the progress of a scheduler run, for logs and systemd STATUS
// ("stopping 37/120").
type Event struct {
	Res   string
	Op    string // "start", "stop" or "probe"
	State State  // after the operation: Running, Stopped, Failed; Unknown when not carried out
	Err   error
	// Done counts the resources of this run that are finished, one way or
	// another, including this one; Total is how many the run handles.
	Done, Total int
}

// Scheduler starts, stops and probes the resources of a group.
//
// At most Parallel operations run at once. The effective limit is the smaller
// of Parallel and the group's own Parallel, ignoring values <= 0, and 1 when
// neither is set; a group with StrictOrder runs one operation at a time, so it
// starts in file order (dependencies are taken from dsl.Resource.After, which
// the config loader resolves), and a group with an explicit stop order
// (ExplicitStopOrder) stops one resource at a time in exactly that order.
// Otherwise g.StopOrder only breaks ties between resources ready to stop.
// Probes use the same limit, StrictOrder aside.
//
// OnEvent, when set, is called after every operation, from the goroutine that
// called Start, Stop or Probe, one call at a time.
type Scheduler struct {
	Parallel int
	OnEvent  func(Event)
}

// ResourceError is the failure of one resource's operation.
type ResourceError struct {
	Res string
	Err error
}

func (e *ResourceError) Error() string { return e.Res + ": " + e.Err.Error() }
func (e *ResourceError) Unwrap() error { return e.Err }

// GroupError reports a group start or stop that did not fully succeed.
type GroupError struct {
	Group string
	Op    string // "start" or "stop"
	// Failures are the resources whose own operation failed, in the order
	// their failures were seen.
	Failures []ResourceError
	// NotStopped (stop) names resources left alone, in stop order: a resource
	// that depends on them did not stop, or the context ended first.
	NotStopped []string
	// Cause is the context's error when the run was interrupted.
	Cause error
	// Rollback (start) is the failure of the rollback stop; nil when the
	// rollback stopped everything it had to.
	Rollback *GroupError
}

func (e *GroupError) Error() string {
	var parts []string
	for _, f := range e.Failures {
		parts = append(parts, f.Error())
	}
	if e.Cause != nil {
		parts = append(parts, "interrupted: "+e.Cause.Error())
	}
	if len(e.NotStopped) > 0 {
		parts = append(parts, "not stopped: "+strings.Join(e.NotStopped, ", "))
	}
	msg := fmt.Sprintf("%s group %s: %s", e.Op, e.Group, strings.Join(parts, "; "))
	if e.Op == "start" {
		if e.Rollback != nil {
			msg += "; rollback failed: " + e.Rollback.Error()
		} else {
			msg += "; rolled back"
		}
	}
	return msg
}

// Unwrap gives the resource failures, the context's error and the rollback
// failure, so errors.As finds a *Refusal among them.
func (e *GroupError) Unwrap() []error {
	var errs []error
	for i := range e.Failures {
		errs = append(errs, &e.Failures[i])
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	if e.Rollback != nil {
		errs = append(errs, e.Rollback)
	}
	return errs
}

// groupGraph is a group's resources with their dependencies as indexes.
type groupGraph struct {
	names      []string   // file order
	res        []Resource //
	after      [][]int    // what each resource starts after
	dependents [][]int    // what starts after each resource
	stopRank   []int      // position in stop order; lower stops first when both are ready
}

func buildGraph(g dsl.Group, rs map[string]Resource) (*groupGraph, error) {
	n := len(g.Resources)
	gr := &groupGraph{names: make([]string, n), res: make([]Resource, n),
		after: make([][]int, n), dependents: make([][]int, n), stopRank: make([]int, n)}
	index := make(map[string]int, n)
	for i, spec := range g.Resources {
		if _, dup := index[spec.Name]; dup {
			return nil, fmt.Errorf("resource %s appears twice", spec.Name)
		}
		index[spec.Name] = i
		gr.names[i] = spec.Name
		r, ok := rs[spec.Name]
		if !ok || r == nil {
			return nil, fmt.Errorf("no resource object for %s", spec.Name)
		}
		gr.res[i] = r
	}
	for i, spec := range g.Resources {
		for _, dep := range spec.After {
			j, ok := index[dep]
			if !ok {
				return nil, fmt.Errorf("%s starts after %s, which is not in the group", spec.Name, dep)
			}
			if j == i {
				return nil, fmt.Errorf("%s starts after itself", spec.Name)
			}
			gr.after[i] = append(gr.after[i], j)
			gr.dependents[j] = append(gr.dependents[j], i)
		}
	}
	if cycle := gr.findCycle(); cycle != "" {
		return nil, fmt.Errorf("dependency cycle through %s", cycle)
	}
	// Stop order: StopOrder first, then the rest in reverse file order.
	for i := range gr.stopRank {
		gr.stopRank[i] = -1
	}
	rank := 0
	for _, name := range g.StopOrder {
		i, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("stop order names %s, which is not in the group", name)
		}
		if gr.stopRank[i] < 0 {
			gr.stopRank[i] = rank
			rank++
		}
	}
	for i := n - 1; i >= 0; i-- {
		if gr.stopRank[i] < 0 {
			gr.stopRank[i] = rank
			rank++
		}
	}
	return gr, nil
}

// findCycle returns the name of a resource on a dependency cycle, or "".
func (gr *groupGraph) findCycle() string {
	n := len(gr.names)
	waiting := make([]int, n)
	var ready []int
	for i := range n {
		waiting[i] = len(gr.after[i])
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	seen := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		seen++
		for _, d := range gr.dependents[i] {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if seen == n {
		return ""
	}
	for i := range n {
		if waiting[i] > 0 {
			return gr.names[i]
		}
	}
	return ""
}

func (s *Scheduler) limits(g dsl.Group) (ops, probes int) {
	for _, v := range []int{s.Parallel, g.Parallel} {
		if v > 0 && (probes == 0 || v < probes) {
			probes = v
		}
	}
	if probes == 0 {
		probes = 1
	}
	ops = probes
	if g.StrictOrder {
		ops = 1
	}
	return ops, probes
}

// stopLimit is the limit of stops at once: an explicit stop order (written in
// the file) means one after another, in that order.
func (s *Scheduler) stopLimit(g dsl.Group) int {
	if g.ExplicitStopOrder {
		return 1
	}
	ops, _ := s.limits(g)
	return ops
}

func (s *Scheduler) emit(ev Event) {
	if s.OnEvent != nil {
		s.OnEvent(ev)
	}
}

type opResult struct {
	i   int
	st  Status
	err error
}

// probeAll probes res in parallel, at most limit at once. A probe error gives
// State Unknown with the error as detail.
func (s *Scheduler) probeAll(ctx context.Context, names []string, res []Resource, limit int) []Status {
	out := make([]Status, len(res))
	results := make(chan opResult)
	next, running, done := 0, 0, 0
	for done < len(res) {
		for running < limit && next < len(res) {
			go func(i int) {
				st, err := res[i].Probe(ctx)
				results <- opResult{i: i, st: st, err: err}
			}(next)
			next++
			running++
		}
		r := <-results
		running--
		done++
		if r.err != nil {
			r.st = Status{State: Unknown, Detail: r.err.Error()}
		}
		out[r.i] = r.st
		s.emit(Event{Res: names[r.i], Op: "probe", State: r.st.State, Err: r.err, Done: done, Total: len(res)})
	}
	return out
}

// Probe probes every resource of the group, in parallel up to the limit. A
// resource that cannot be probed (or has no object in rs) is Unknown, with
// the reason as detail.
func (s *Scheduler) Probe(ctx context.Context, g dsl.Group, rs map[string]Resource) map[string]Status {
	out := make(map[string]Status, len(g.Resources))
	var names []string
	var res []Resource
	for _, spec := range g.Resources {
		r, ok := rs[spec.Name]
		if !ok || r == nil {
			out[spec.Name] = Status{State: Unknown, Detail: "no resource object"}
			continue
		}
		names = append(names, spec.Name)
		res = append(res, r)
	}
	_, limit := s.limits(g)
	for i, st := range s.probeAll(ctx, names, res, limit) {
		out[names[i]] = st
	}
	return out
}

// Start brings the group up.
//
// It probes every resource first and adopts those already Running. The others
// start once everything in their After list is Running, at most the limit at
// once. When a start fails (or ctx ends), nothing new is started, the
// operations in flight are waited for, and the group is rolled back: every
// exclusive resource this call adopted, started or tried to start is stopped,
// in reverse dependency order, because a group must never be left half up
// (resources whose probe failed and that were never tried are not touched;
// non-exclusive ones are not stopped and hold what they depend on, as in Stop).
// The rollback runs even when ctx was cancelled (each stop is still bounded by
// its resource's stop timeout). The error is a *GroupError naming every
// failed resource with its cause, and the rollback's own failure if any.
func (s *Scheduler) Start(ctx context.Context, g dsl.Group, rs map[string]Resource) error {
	gr, err := buildGraph(g, rs)
	if err != nil {
		return fmt.Errorf("start group %s: %w", g.Name, err)
	}
	ops, probes := s.limits(g)
	statuses := s.probeAll(ctx, gr.names, gr.res, probes)

	const (
		pending = iota
		inFlight
		up
		failed
	)
	n := len(gr.names)
	state := make([]int, n)
	member := make([]bool, n) // adopted or attempted: what a rollback stops
	done := 0
	for i, st := range statuses {
		if st.State == Running {
			state[i] = up
			member[i] = true
			done++
		}
	}
	allUp := func(deps []int) bool {
		for _, d := range deps {
			if state[d] != up {
				return false
			}
		}
		return true
	}
	results := make(chan opResult)
	running := 0
	var failures []ResourceError
	for {
		if len(failures) == 0 && ctx.Err() == nil {
			for i := 0; i < n && running < ops; i++ {
				if state[i] != pending || !allUp(gr.after[i]) {
					continue
				}
				state[i] = inFlight
				member[i] = true
				running++
				go func(i int) { results <- opResult{i: i, err: gr.res[i].Start(ctx)} }(i)
			}
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		done++
		if r.err != nil {
			state[r.i] = failed
			failures = append(failures, ResourceError{Res: gr.names[r.i], Err: r.err})
			s.emit(Event{Res: gr.names[r.i], Op: "start", State: Failed, Err: r.err, Done: done, Total: n})
			continue
		}
		state[r.i] = up
		s.emit(Event{Res: gr.names[r.i], Op: "start", State: Running, Done: done, Total: n})
	}
	if len(failures) == 0 && done == n {
		return nil
	}
	ge := &GroupError{Group: g.Name, Op: "start", Failures: failures}
	if len(failures) == 0 {
		ge.Cause = ctx.Err()
		if ge.Cause == nil { // cannot happen: without a failure every resource becomes ready
			ge.Cause = errors.New("some resources never became ready")
		}
	}
	// Non-exclusive resources are not stopped, and while they run they
	// hold what they depend on.
	holds := make([]bool, n)
	for i := range member {
		holds[i] = member[i] && !gr.res[i].Exclusive()
		member[i] = member[i] && gr.res[i].Exclusive()
	}
	ge.Rollback = s.stopMembers(context.WithoutCancel(ctx), g.Name, gr, member, holds, s.stopLimit(g))
	return ge
}

// Stop brings the group down: every exclusive resource is stopped, in
// g.StopOrder where dependencies allow, at most the limit at once, and a
// resource only after every resource that depends on it has stopped.
// Resources that are not exclusive (Xen domains in mode both) are never
// stopped; as they keep running, whatever they depend on is left running too
// and reported (such a domain should not depend on exclusive storage). When a
// stop fails, the resources it depends on (directly or not) are left running,
// since stopping them under it would not be safe (never demote DRBD under a
// running domain); everything else is still stopped. The error is a
// *GroupError naming every failed resource and every one left running.
// Nothing new is started once ctx ends; what is left is reported.
func (s *Scheduler) Stop(ctx context.Context, g dsl.Group, rs map[string]Resource) error {
	gr, err := buildGraph(g, rs)
	if err != nil {
		return fmt.Errorf("stop group %s: %w", g.Name, err)
	}
	member := make([]bool, len(gr.res))
	holds := make([]bool, len(gr.res))
	for i, r := range gr.res {
		member[i] = r.Exclusive()
		holds[i] = !member[i]
	}
	if ge := s.stopMembers(ctx, g.Name, gr, member, holds, s.stopLimit(g)); ge != nil {
		return ge
	}
	return nil
}

// stopMembers stops the members of gr in reverse dependency order. A member
// stops once every member that depends on it has stopped. A resource marked in
// holds is left running by this stop, so what it depends on stays up too;
// other non-members are taken as not running and hold nothing back.
func (s *Scheduler) stopMembers(ctx context.Context, group string, gr *groupGraph, member, holds []bool, limit int) *GroupError {
	const (
		pending = iota
		inFlight
		down
		failed
		blocked
	)
	n := len(gr.names)
	state := make([]int, n)
	heldBecause := make([]string, n) // why a blocked resource stays up
	order := make([]int, 0, n)
	total := 0
	for i := range n {
		if member[i] {
			order = append(order, i)
			total++
		}
	}
	sort.Slice(order, func(a, b int) bool { return gr.stopRank[order[a]] < gr.stopRank[order[b]] })

	allDependentsDown := func(i int) bool {
		for _, d := range gr.dependents[i] {
			if member[d] && state[d] != down {
				return false
			}
		}
		return true
	}
	results := make(chan opResult)
	running, done := 0, 0
	var failures []ResourceError
	for {
		// Anything a failed, held or blocked resource depends on stays up.
		for changed := true; changed; {
			changed = false
			for _, i := range order {
				if state[i] != pending {
					continue
				}
				for _, d := range gr.dependents[i] {
					switch {
					case holds[d]:
						heldBecause[i] = fmt.Sprintf("%s, which depends on it, is not exclusive and keeps running", gr.names[d])
					case member[d] && state[d] == failed:
						heldBecause[i] = fmt.Sprintf("%s, which depends on it, did not stop", gr.names[d])
					case member[d] && state[d] == blocked:
						heldBecause[i] = heldBecause[d]
					default:
						continue
					}
					state[i] = blocked
					done++
					changed = true
					s.emit(Event{Res: gr.names[i], Op: "stop", State: Unknown, Done: done, Total: total,
						Err: errors.New("not stopped: " + heldBecause[i])})
					break
				}
			}
		}
		if ctx.Err() == nil {
			for _, i := range order {
				if running >= limit {
					break
				}
				if state[i] != pending || !allDependentsDown(i) {
					continue
				}
				state[i] = inFlight
				running++
				go func(i int) { results <- opResult{i: i, err: gr.res[i].Stop(ctx)} }(i)
			}
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		done++
		if r.err != nil {
			state[r.i] = failed
			failures = append(failures, ResourceError{Res: gr.names[r.i], Err: r.err})
			s.emit(Event{Res: gr.names[r.i], Op: "stop", State: Failed, Err: r.err, Done: done, Total: total})
			continue
		}
		state[r.i] = down
		s.emit(Event{Res: gr.names[r.i], Op: "stop", State: Stopped, Done: done, Total: total})
	}

	var notStopped []string
	interrupted := false
	for _, i := range order {
		switch state[i] {
		case blocked:
			notStopped = append(notStopped, gr.names[i])
		case pending:
			notStopped = append(notStopped, gr.names[i])
			interrupted = true
		}
	}
	if len(failures) == 0 && len(notStopped) == 0 {
		return nil
	}
	ge := &GroupError{Group: group, Op: "stop", Failures: failures, NotStopped: notStopped}
	if interrupted {
		ge.Cause = ctx.Err()
	}
	return ge
}

package resources

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"xhad/dsl"
	"xhad/internal/runner/runnertest"
)

func xenSpec(shutdown, stop time.Duration) dsl.Resource {
	return dsl.Resource{Name: "web-vm", Kind: dsl.KindXen, StartTimeout: 50 * time.Second, StopTimeout: stop,
		Xen: &dsl.XenSpec{Domain: "web", Config: "/etc/xen/web.cfg", Mode: dsl.XenExclusive, ShutdownTimeout: shutdown}}
}

func xlListed(state string) runnertest.Answer {
	return ok(XLListHeader + "\n" + xlRowf("web", 5, 1024, 2, state, 10) + "\n")
}

var (
	xlGone       = fail(1, "web is an invalid domain identifier (rc=-6)")
	xlRunning    = xlListed("-b----")
	xlAlreadyDup = fail(3, "Parsing config from /etc/xen/web.cfg\nlibxl: error: libxl_domain.c:94:libxl__domain_rename: Domain with name \"web\" already exists.\ncannot make domain: -6")
)

func TestXenProbe(t *testing.T) {
	tests := []struct {
		name   string
		answer runnertest.Answer
		want   Status
		errHas string
	}{
		{"blocked is running", xlListed("-b----"), Status{Running, "running (-b----, id 5)"}, ""},
		{"running", xlListed("r-----"), Status{Running, "running (r-----, id 5)"}, ""},
		{"neither running nor blocked", xlListed("------"), Status{Running, "running (------, id 5)"}, ""},
		{"paused", xlListed("--p---"), Status{Running, "paused (--p---, id 5)"}, ""},
		{"crashed", xlListed("---sc-"), Status{Failed, "crashed (---sc-, id 5)"}, ""},
		{"crashed, preserved and not shut down", xlListed("----c-"), Status{Failed, "crashed (----c-, id 5)"}, ""},
		{"shut down but listed", xlListed("---s--"), Status{Failed, "shut down, reason poweroff, still listed (---s--, id 5)"}, ""},
		{"dying", xlListed("-----d"), Status{Failed, "dying (-----d, id 5)"}, ""},
		{"not listed", xlGone, Status{Stopped, "domain not listed"}, ""},
		{"numeric id form", fail(1, "Error: Domain '42' does not exist."), Status{Stopped, "domain not listed"}, ""},
		{"other failure", fail(1, "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle"), Status{}, "libxc"},
		{"row missing", ok(XLListHeader + "\n" + xlRowf("other", 3, 1, 1, "r-----", 1) + "\n"), Status{}, "without a row"},
		{"bad header", ok("Name ID Mem\n"), Status{}, "unexpected header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake([]rule{on("/usr/sbin/xl list web", tt.answer)})
			res := mustNew(t, xenSpec(10*time.Second, 60*time.Second), dsl.Tools{XL: "/usr/sbin/xl"}, f)
			st, err := res.Probe(context.Background())
			sameCalls(t, f.Calls(), []string{"/usr/sbin/xl list web"})
			if tt.errHas != "" {
				outcome{errHas: []string{tt.errHas}}.check(t, err, f.Calls())
				return
			}
			if err != nil || st != tt.want {
				t.Fatalf("Probe = %+v, %v; want %+v", st, err, tt.want)
			}
		})
	}
}

func TestXenStart(t *testing.T) {
	const list, create = "xl list web", "xl create /etc/xen/web.cfg"
	tests := []struct {
		name  string
		rules []rule
		calls []string
		want  outcome
	}{
		{"creates", []rule{on(list, xlGone, xlRunning), on(create, runnertest.Answer{Stderr: "Parsing config from /etc/xen/web.cfg"})},
			[]string{list, create, list}, outcome{}},
		{"already running", []rule{on(list, xlRunning)}, []string{list}, outcome{}},
		{"already running, paused", []rule{on(list, xlListed("--p---"))}, []string{list}, outcome{}},
		{"crashed copy listed", []rule{on(list, xlListed("---sc-"))}, []string{list},
			outcome{errHas: []string{"crashed", "stop it before"}}},
		{"lost a race: already exists, now running", []rule{on(list, xlGone, xlRunning), on(create, xlAlreadyDup)},
			[]string{list, create, list}, outcome{}},
		{"already exists but not running", []rule{on(list, xlGone, xlListed("---s--")), on(create, xlAlreadyDup)},
			[]string{list, create, list}, outcome{errHas: []string{"already exists", "shut down"}}},
		{"config unreadable (exit 3)", []rule{on(list, xlGone), on(create, fail(3, "Failed to read config file: /etc/xen/web.cfg: No such file or directory"))},
			[]string{list, create}, outcome{errHas: []string{"Failed to read config file", "exit code 3"}}},
		{"config does not parse (exit 1)", []rule{on(list, xlGone), on(create, fail(1, "Failed to parse config: Invalid argument"))},
			[]string{list, create}, outcome{errHas: []string{"Failed to parse config"}}},
		{"created under another name", []rule{on(list, xlGone), on(create)},
			[]string{list, create, list}, outcome{errHas: []string{"exited 0", "not listed"}}},
		{"cannot list", []rule{on(list, fail(1, "libxl: error: cannot open libxc handle"))},
			[]string{list}, outcome{errHas: []string{"libxc"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, xenSpec(10*time.Second, 60*time.Second), dsl.Tools{}, f)
			tt.want.check(t, res.Start(context.Background()), f.Calls())
			sameCalls(t, f.Calls(), tt.calls)
			checkTimeouts(t, f, 50*time.Second)
		})
	}
}

// xenStopCase runs Xen.Stop in a synctest bubble, so the shutdown and stop
// timeouts pass on the bubble's clock, not the wall clock.
type xenStopCase struct {
	name     string
	shutdown time.Duration // spec shutdown timeout
	rules    []rule
	// destroyWorks makes `xl list web` report the domain gone once
	// `xl destroy web` has run.
	destroyWorks bool
	cancelAfter  time.Duration // the caller cancels after this long; 0 = never
	immediate    bool          // stop with WithImmediateStop (an isolated node)
	want         outcome
	// destroyFrom..destroyBefore bound when the first destroy may run,
	// measured from the start of Stop; both zero = no destroy at all.
	destroyFrom, destroyBefore time.Duration
	callsHave                  []string
}

func TestXenStop(t *testing.T) {
	const list, shutdown, destroy = "xl list web", "xl shutdown web", "xl destroy web"
	const stopTimeout, poll = 60 * time.Second, time.Second
	tests := []xenStopCase{
		{name: "already gone", rules: []rule{on(list, xlGone)}, callsHave: []string{list}},
		{name: "graceful shutdown", shutdown: 30 * time.Second,
			rules:     []rule{on(list, xlRunning, xlRunning, xlListed("---s--"), xlGone), on(shutdown, runnertest.Answer{Stderr: "Shutting down domain 5"})},
			callsHave: []string{list, shutdown, list, list, list}},
		{name: "ignores shutdown: destroyed after the shutdown timeout", shutdown: 30 * time.Second,
			rules: []rule{on(list, xlRunning), on(shutdown), on(destroy)}, destroyWorks: true,
			destroyFrom: 30 * time.Second, destroyBefore: 31 * time.Second},
		{name: "unset shutdown timeout waits two thirds of the stop timeout",
			rules: []rule{on(list, xlRunning), on(shutdown), on(destroy)}, destroyWorks: true,
			destroyFrom: 40 * time.Second, destroyBefore: 41 * time.Second},
		{name: "shutdown timeout longer than the stop timeout leaves time to destroy", shutdown: 10 * time.Minute,
			rules: []rule{on(list, xlRunning), on(shutdown), on(destroy)}, destroyWorks: true,
			destroyFrom: 40 * time.Second, destroyBefore: 41 * time.Second},
		{name: "no PV drivers: ACPI power button", shutdown: 30 * time.Second,
			rules: []rule{on(list, xlRunning, xlRunning, xlGone),
				on(shutdown, fail(1, "PV control interface not available: external graceful shutdown not possible.\nUse \"-F\" to fallback to ACPI power event.\nshutdown failed (rc=-10)")),
				on("xl shutdown -F web")},
			callsHave: []string{list, shutdown, "xl shutdown -F web", list, list}},
		{name: "shutdown impossible: destroy at once", shutdown: 30 * time.Second,
			rules: []rule{on(list, xlRunning), on(shutdown, fail(1, "shutdown failed (rc=-3)")), on(destroy)}, destroyWorks: true,
			destroyFrom: 0, destroyBefore: time.Nanosecond},
		{name: "immediate (isolated node): destroyed at once, never shut down", shutdown: 30 * time.Second, immediate: true,
			rules: []rule{on(list, xlRunning), on(destroy)}, destroyWorks: true,
			destroyFrom: 0, destroyBefore: time.Nanosecond, callsHave: []string{list, destroy, list}},
		{name: "immediate, already gone", immediate: true, rules: []rule{on(list, xlGone)}, callsHave: []string{list}},
		{name: "domain vanished before shutdown", shutdown: 30 * time.Second,
			rules:     []rule{on(list, xlRunning, xlGone), on(shutdown, fail(1, "web is an invalid domain identifier (rc=-6)"))},
			callsHave: []string{list, shutdown, list}},
		{name: "destroy never succeeds", shutdown: 30 * time.Second,
			rules: []rule{on(list, xlRunning), on(shutdown), on(destroy, fail(1, "destroy failed (rc=-3)"))},
			want:  outcome{is: context.DeadlineExceeded, errHas: []string{"destroy failed (rc=-3)"}}, destroyFrom: 30 * time.Second, destroyBefore: 31 * time.Second},
		{name: "cannot tell whether it runs", rules: []rule{on(list, fail(1, "libxl: error: cannot open libxc handle"))},
			want: outcome{errHas: []string{"libxc"}}, callsHave: []string{list}},
		{name: "caller gives up while waiting", shutdown: 30 * time.Second, cancelAfter: 5 * time.Second,
			rules: []rule{on(list, xlRunning), on(shutdown)}, want: outcome{is: context.Canceled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(tt.rules)
				start := time.Now()
				var mu sync.Mutex
				var destroyedAt []time.Duration
				f.OnRun = func(line string) {
					if line != destroy {
						return
					}
					mu.Lock()
					destroyedAt = append(destroyedAt, time.Since(start))
					mu.Unlock()
					if tt.destroyWorks {
						f.On(list, xlGone)
					}
				}
				res := mustNew(t, xenSpec(tt.shutdown, stopTimeout), dsl.Tools{}, f)
				res.(*Xen).PollInterval = poll
				ctx := context.Background()
				if tt.immediate {
					ctx = WithImmediateStop(ctx)
				}
				if tt.cancelAfter > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(tt.cancelAfter, cancel)
				}
				err := res.Stop(ctx)
				calls := f.Calls()
				tt.want.check(t, err, calls)
				if elapsed := time.Since(start); elapsed > stopTimeout {
					t.Fatalf("Stop took %v on the bubble clock, beyond its stop timeout %v", elapsed, stopTimeout)
				}
				if tt.callsHave != nil {
					sameCalls(t, calls, tt.callsHave)
				}
				mu.Lock()
				defer mu.Unlock()
				if tt.destroyFrom == 0 && tt.destroyBefore == 0 {
					if len(destroyedAt) > 0 {
						t.Fatalf("destroyed at %v, want no destroy (calls %q)", destroyedAt, calls)
					}
					return
				}
				if len(destroyedAt) == 0 || destroyedAt[0] < tt.destroyFrom || destroyedAt[0] >= tt.destroyBefore {
					t.Fatalf("first destroy at %v, want in [%v, %v) (calls %q)", destroyedAt, tt.destroyFrom, tt.destroyBefore, calls)
				}
				if last := calls[len(calls)-1]; err == nil && last != list {
					t.Fatalf("Stop succeeded without a final xl list: calls %q", calls)
				}
			})
		})
	}
}

func TestXenStopKeepsDestroyingUntilGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake([]rule{on("xl list web", xlRunning), on("xl shutdown web"),
			on("xl destroy web", fail(1, "destroy failed (rc=-3)"), fail(1, "destroy failed (rc=-3)"), runnertest.Answer{})})
		destroys := 0
		f.OnRun = func(line string) {
			if line == "xl destroy web" {
				destroys++
				if destroys == 3 {
					f.On("xl list web", xlGone)
				}
			}
		}
		res := mustNew(t, xenSpec(5*time.Second, 60*time.Second), dsl.Tools{}, f)
		if err := res.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v (calls %q)", err, f.Calls())
		}
		if destroys != 3 {
			t.Fatalf("xl destroy ran %d times, want 3 (calls %q)", destroys, f.Calls())
		}
	})
}

func TestXenDefaultPollIntervalIsSmall(t *testing.T) {
	res := mustNew(t, xenSpec(time.Second, time.Minute), dsl.Tools{}, &runnertest.Fake{})
	if got := res.(*Xen).PollInterval; got != DefaultPollInterval || got > time.Second {
		t.Fatalf("PollInterval = %v, want DefaultPollInterval (%v), at most 1s", got, DefaultPollInterval)
	}
}

func TestXenExclusive(t *testing.T) {
	for _, mode := range []dsl.XenMode{dsl.XenExclusive, dsl.XenBoth} {
		spec := xenSpec(time.Second, time.Minute)
		spec.Xen.Mode = mode
		res := mustNew(t, spec, dsl.Tools{}, &runnertest.Fake{})
		if got, want := res.Exclusive(), mode != dsl.XenBoth; got != want {
			t.Fatalf("mode %s: Exclusive() = %v, want %v", mode, got, want)
		}
	}
}

func TestXenStopErrorNamesTheDomain(t *testing.T) {
	f := newFake([]rule{on("xl list web", fail(1, "boom"))})
	res := mustNew(t, xenSpec(time.Second, time.Minute), dsl.Tools{}, f)
	err := res.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "stop xen web-vm (domain web)") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error should name resource and domain: %v", err)
	}
}

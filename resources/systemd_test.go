package resources

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"xhad/dsl"
	"xhad/internal/runner"
	"xhad/internal/runner/runnertest"
)

const (
	showWeb  = "systemctl show --property=LoadState,ActiveState,SubState web.service"
	startWeb = "systemctl start web.service"
	stopWeb  = "systemctl stop web.service"
	// what systemctl prints on a host whose PID 1 is not systemd (exit 1)
	noSystemd = "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down"
)

func unitShow(load, active, sub string) runnertest.Answer {
	return ok(fmt.Sprintf("LoadState=%s\nActiveState=%s\nSubState=%s\n", load, active, sub))
}

var (
	uActive       = unitShow("loaded", "active", "running")
	uInactive     = unitShow("loaded", "inactive", "dead")
	uFailed       = unitShow("loaded", "failed", "failed")
	uActivating   = unitShow("loaded", "activating", "start-pre")
	uDeactivating = unitShow("loaded", "deactivating", "stop-sigterm")
	uNotFound     = unitShow("not-found", "inactive", "dead")
	uMasked       = unitShow("masked", "inactive", "dead")
)

func systemdRes(t *testing.T, f *runnertest.Fake, start, stop time.Duration) *Systemd {
	t.Helper()
	spec := dsl.Resource{Name: "web", Kind: dsl.KindSystemd, StartTimeout: start, StopTimeout: stop, Systemd: &dsl.SystemdSpec{Unit: "web.service"}}
	res := mustNew(t, spec, dsl.Tools{}, f)
	s, ok := res.(*Systemd)
	if !ok {
		t.Fatalf("New built %T, want *Systemd", res)
	}
	if s.Name() != "web" || s.Kind() != dsl.KindSystemd || !s.Exclusive() {
		t.Fatalf("name %q kind %q exclusive %v", s.Name(), s.Kind(), s.Exclusive())
	}
	s.PollInterval = time.Millisecond
	return s
}

func TestSystemdProbe(t *testing.T) {
	tests := []struct {
		name   string
		answer runnertest.Answer
		state  State
		detail string
		errHas string
	}{
		{"active", uActive, Running, "active (running)", ""},
		{"reloading", unitShow("loaded", "reloading", "reload"), Running, "reloading (reload)", ""},
		{"inactive", uInactive, Stopped, "inactive (dead)", ""},
		{"failed", uFailed, Failed, "failed (failed)", ""},
		{"activating", uActivating, Unknown, "activating (start-pre)", ""},
		{"auto-restart", unitShow("loaded", "activating", "auto-restart"), Unknown, "activating (auto-restart)", ""},
		{"deactivating", uDeactivating, Unknown, "deactivating (stop-sigterm)", ""},
		{"not installed", uNotFound, Stopped, "not installed (LoadState not-found)", ""},
		{"masked", uMasked, Stopped, "inactive (dead), masked", ""},
		{"other order", ok("SubState=running\nActiveState=active\nLoadState=loaded\n"), Running, "active (running)", ""},
		{"no ActiveState", ok("Failed to parse\n"), Unknown, "", "printed no ActiveState"},
		{"no systemd", fail(1, noSystemd), Unknown, "", "systemd is not running on this host"},
		{"timeout", runnertest.Answer{Err: fmt.Errorf("%s: %w after 30s", showWeb, runner.ErrTimeout)}, Unknown, "", "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake([]rule{on(showWeb, tt.answer)})
			st, err := systemdRes(t, f, 0, 0).Probe(context.Background())
			sameCalls(t, f.Calls(), []string{showWeb})
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), "probe systemd web (unit web.service)") {
					t.Fatalf("err %v, want one naming the resource and %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.state || st.Detail != tt.detail {
				t.Fatalf("got %s %q, want %s %q", st.State, st.Detail, tt.state, tt.detail)
			}
		})
	}
}

func TestSystemdStart(t *testing.T) {
	tests := []struct {
		name  string
		rules []rule
		calls []string
		want  outcome
	}{
		{"already active", []rule{on(showWeb, uActive)},
			[]string{showWeb}, outcome{}},
		{"inactive, started", []rule{on(showWeb, uInactive, uActive), on(startWeb)},
			[]string{showWeb, startWeb, showWeb}, outcome{}},
		{"failed before, started", []rule{on(showWeb, uFailed, uActive), on(startWeb)},
			[]string{showWeb, startWeb, showWeb}, outcome{}},
		{"activating, then active", []rule{on(showWeb, uInactive, uActivating, uActivating, uActive), on(startWeb)},
			[]string{showWeb, startWeb, showWeb, showWeb, showWeb}, outcome{}},
		{"found activating: start waits for it", []rule{on(showWeb, uActivating, uActive), on(startWeb)},
			[]string{showWeb, startWeb, showWeb}, outcome{}},
		{"start job failed", []rule{on(showWeb, uInactive, uFailed),
			on(startWeb, fail(1, "Job for web.service failed because the control process exited with error code.\nSee \"systemctl status web.service\" and \"journalctl -xeu web.service\" for details."))},
			[]string{showWeb, startWeb, showWeb},
			outcome{errHas: []string{"start systemd web (unit web.service)", "exit code 1", "control process exited", "now failed (failed)", "journalctl -u web.service"}}},
		{"fails after a clean job", []rule{on(showWeb, uInactive, uActivating, uFailed), on(startWeb)},
			[]string{showWeb, startWeb, showWeb, showWeb},
			outcome{errHas: []string{"unit is failed (failed) after systemctl start", "journalctl -u web.service"}}},
		{"oneshot without RemainAfterExit", []rule{on(showWeb, uInactive, uInactive), on(startWeb)},
			[]string{showWeb, startWeb, showWeb}, outcome{errHas: []string{"RemainAfterExit=yes"}}},
		{"not installed", []rule{on(showWeb, uNotFound)},
			[]string{showWeb}, outcome{errHas: []string{"unit web.service is not installed on this host", "check resource web's unit"}}},
		{"masked", []rule{on(showWeb, uMasked)},
			[]string{showWeb}, outcome{errHas: []string{"unit web.service is masked; unmask it (systemctl unmask web.service)"}}},
		{"removed meanwhile: exit 5", []rule{on(showWeb, uInactive, uNotFound), on(startWeb, fail(5, "Failed to start web.service: Unit web.service not found."))},
			[]string{showWeb, startWeb, showWeb},
			outcome{errHas: []string{"not installed on this host", "exit code 5", "Unit web.service not found."}}},
		{"start failed, inactive", []rule{on(showWeb, uInactive, uInactive), on(startWeb, fail(1, "Failed to start web.service: Access denied"))},
			[]string{showWeb, startWeb, showWeb}, outcome{errHas: []string{"Access denied", "now inactive (dead)"}}},
		{"no systemd", []rule{on(showWeb, fail(1, noSystemd))},
			[]string{showWeb}, outcome{errHas: []string{"systemd is not running on this host", "Host is down"}}},
		{"no systemd at start", []rule{on(showWeb, uInactive), on(startWeb, fail(1, noSystemd))},
			[]string{showWeb, startWeb}, outcome{errHas: []string{"systemd is not running on this host"}}},
		{"state unreadable after start", []rule{on(showWeb, uInactive, fail(1, "Failed to get properties: Connection timed out")), on(startWeb)},
			[]string{showWeb, startWeb, showWeb}, outcome{errHas: []string{"read the state after systemctl start", "Connection timed out"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			err := systemdRes(t, f, 10*time.Second, 0).Start(context.Background())
			tt.want.check(t, err, f.Calls())
			sameCalls(t, f.Calls(), tt.calls)
			checkTimeouts(t, f, 10*time.Second)
		})
	}
}

func TestSystemdStartTimesOutWhileActivating(t *testing.T) {
	f := newFake([]rule{on(showWeb, uInactive, uActivating), on(startWeb)})
	err := systemdRes(t, f, 50*time.Millisecond, 0).Start(context.Background())
	outcome{is: context.DeadlineExceeded, errHas: []string{"waiting for active", "last activating (start-pre)"}}.check(t, err, f.Calls())
	calls := f.Calls()
	if len(calls) < 3 || calls[1] != startWeb || calls[len(calls)-1] != showWeb {
		t.Fatalf("calls %q", calls)
	}
}

func TestSystemdStartHonoursCancel(t *testing.T) {
	f := newFake([]rule{on(showWeb, uInactive)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := systemdRes(t, f, 0, 0).Start(ctx)
	if !errorsIsCanceled(err) {
		t.Fatalf("start with a cancelled context: %v", err)
	}
	sameCalls(t, f.Calls(), nil)
}

func TestSystemdStop(t *testing.T) {
	tests := []struct {
		name  string
		rules []rule
		calls []string
		want  outcome
	}{
		{"inactive", []rule{on(showWeb, uInactive)}, []string{showWeb}, outcome{}},
		{"failed", []rule{on(showWeb, uFailed)}, []string{showWeb}, outcome{}},
		{"not installed", []rule{on(showWeb, uNotFound)}, []string{showWeb}, outcome{}},
		{"active, stopped", []rule{on(showWeb, uActive, uInactive), on(stopWeb)},
			[]string{showWeb, stopWeb, showWeb}, outcome{}},
		{"goes failed when stopped", []rule{on(showWeb, uActive, uFailed), on(stopWeb)},
			[]string{showWeb, stopWeb, showWeb}, outcome{}},
		{"deactivating, then inactive", []rule{on(showWeb, uActive, uDeactivating, uDeactivating, uInactive), on(stopWeb)},
			[]string{showWeb, stopWeb, showWeb, showWeb, showWeb}, outcome{}},
		{"found activating", []rule{on(showWeb, uActivating, uInactive), on(stopWeb)},
			[]string{showWeb, stopWeb, showWeb}, outcome{}},
		{"unloaded meanwhile: exit 5", []rule{on(showWeb, uActive, uNotFound), on(stopWeb, fail(5, "Failed to stop web.service: Unit web.service not loaded."))},
			[]string{showWeb, stopWeb, showWeb}, outcome{}},
		{"no systemd", []rule{on(showWeb, fail(1, noSystemd))},
			[]string{showWeb}, outcome{errHas: []string{"stop systemd web (unit web.service)", "systemd is not running on this host"}}},
		{"no systemd at stop", []rule{on(showWeb, uActive), on(stopWeb, fail(1, noSystemd))},
			[]string{showWeb, stopWeb}, outcome{errHas: []string{"systemd is not running on this host"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			err := systemdRes(t, f, 0, 10*time.Second).Stop(context.Background())
			tt.want.check(t, err, f.Calls())
			sameCalls(t, f.Calls(), tt.calls)
			checkTimeouts(t, f, 10*time.Second)
		})
	}
}

func TestSystemdStopNeverReturnsNilWhileActive(t *testing.T) {
	tests := []struct {
		name   string
		stop   runnertest.Answer
		errHas []string
	}{
		{"stop exits 0 but unit stays active", ok(""), []string{"waiting for inactive", "last active (running)"}},
		{"stop fails", fail(1, "Failed to stop web.service: Access denied"), []string{"Access denied", "last active (running)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake([]rule{on(showWeb, uActive), on(stopWeb, tt.stop)})
			err := systemdRes(t, f, 0, 50*time.Millisecond).Stop(context.Background())
			outcome{is: context.DeadlineExceeded, errHas: tt.errHas}.check(t, err, f.Calls())
			if calls := f.Calls(); len(calls) < 3 || calls[1] != stopWeb {
				t.Fatalf("calls %q", calls)
			}
		})
	}
}

func TestNewSystemdRejects(t *testing.T) {
	for _, spec := range []*dsl.SystemdSpec{nil, {}} {
		_, err := New(dsl.Resource{Name: "u", Kind: dsl.KindSystemd, Systemd: spec}, dsl.Tools{}, &runnertest.Fake{})
		if err == nil || !strings.Contains(err.Error(), "new systemd resource u: no unit name") {
			t.Fatalf("New with %+v: %v", spec, err)
		}
	}
}

// TestSystemdRealSystemctl runs the adapter against the real systemctl when
// PID 1 is systemd, on a unit that cannot exist.
func TestSystemdRealSystemctl(t *testing.T) {
	comm, err := readFirstLine("/proc/1/comm")
	if err != nil || comm != "systemd" {
		t.Skipf("PID 1 is %q, not systemd (%v); the adapter tests above cover systemctl's answers", comm, err)
	}
	spec := dsl.Resource{Name: "ghost", Kind: dsl.KindSystemd, Systemd: &dsl.SystemdSpec{Unit: "xhad-test-no-such-unit.service"}}
	s := mustNew(t, spec, dsl.Tools{}, runner.Exec{})
	st, err := s.Probe(context.Background())
	if err != nil || st.State != Stopped {
		t.Fatalf("probe of a missing unit: %s %q %v", st.State, st.Detail, err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("stop of a missing unit: %v", err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("start of a missing unit: %v", err)
	}
}

func readFirstLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

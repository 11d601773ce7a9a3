package resources

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"xhad/dsl"
	"xhad/internal/runner/runnertest"
)

var lsbSpec = dsl.Resource{Name: "nfs", Kind: dsl.KindExec, Exec: &dsl.ExecSpec{Script: "/etc/init.d/nfs-kernel-server"},
	StartTimeout: 15 * time.Second, StopTimeout: 16 * time.Second}

const lsbScript = "/etc/init.d/nfs-kernel-server"

func TestLSBProbe(t *testing.T) {
	tests := []struct {
		code   int
		want   State
		detail string
	}{
		{0, Running, "status exit 0: running"},
		{1, Failed, "status exit 1: program is dead and a pid file exists"},
		{2, Failed, "status exit 2: program is dead and a lock file exists"},
		{3, Stopped, "status exit 3: not running"},
		{4, Failed, "status exit 4: status is unknown"},
		{5, Failed, "status exit 5: failed"},
		{150, Failed, "status exit 150: failed"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			f := newFake([]rule{on(lsbScript+" status", runnertest.Answer{Code: tt.code})})
			res := mustNew(t, lsbSpec, dsl.Tools{}, f)
			st, err := res.Probe(context.Background())
			if err != nil || st != (Status{tt.want, tt.detail}) {
				t.Fatalf("Probe = %+v, %v; want %v %q", st, err, tt.want, tt.detail)
			}
			sameCalls(t, f.Calls(), []string{lsbScript + " status"})
		})
	}
	t.Run("script missing", func(t *testing.T) {
		f := newFake([]rule{on(lsbScript+" status", runnertest.Answer{Err: fmt.Errorf("run %s status: fork/exec: no such file or directory", lsbScript)})})
		res := mustNew(t, lsbSpec, dsl.Tools{}, f)
		if _, err := res.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("Probe of a missing script: %v, want an error", err)
		}
	})
}

func TestLSBStartStop(t *testing.T) {
	tests := []struct {
		name  string
		op    string
		rules []rule
		calls []string
		want  outcome
	}{
		{"start", "start", []rule{on(lsbScript + " start")}, []string{lsbScript + " start"}, outcome{}},
		{"start fails", "start", []rule{on(lsbScript+" start", fail(1, "Starting NFS: failed"))}, []string{lsbScript + " start"},
			outcome{errHas: []string{"start exec nfs", "Starting NFS: failed"}}},
		{"stop verified", "stop", []rule{on(lsbScript + " stop"), on(lsbScript+" status", runnertest.Answer{Code: 3})},
			[]string{lsbScript + " stop", lsbScript + " status"}, outcome{}},
		{"stop exits 0 but still running", "stop", []rule{on(lsbScript + " stop"), on(lsbScript + " status")},
			[]string{lsbScript + " stop", lsbScript + " status"}, outcome{errHas: []string{"stop exited 0", "running"}}},
		{"stop exits 0, dead with pid file is not verified", "stop", []rule{on(lsbScript + " stop"), on(lsbScript+" status", runnertest.Answer{Code: 1})},
			[]string{lsbScript + " stop", lsbScript + " status"}, outcome{errHas: []string{"pid file"}}},
		{"stop fails but status says stopped", "stop", []rule{on(lsbScript+" stop", fail(1, "not running")), on(lsbScript+" status", runnertest.Answer{Code: 3})},
			[]string{lsbScript + " stop", lsbScript + " status"}, outcome{}},
		{"stop fails and still running", "stop", []rule{on(lsbScript+" stop", fail(1, "busy")), on(lsbScript + " status")},
			[]string{lsbScript + " stop", lsbScript + " status"}, outcome{errHas: []string{"busy", "status exit 0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, lsbSpec, dsl.Tools{}, f)
			var err error
			limit := lsbSpec.StartTimeout
			if tt.op == "start" {
				err = res.Start(context.Background())
			} else {
				err = res.Stop(context.Background())
				limit = lsbSpec.StopTimeout
			}
			tt.want.check(t, err, f.Calls())
			sameCalls(t, f.Calls(), tt.calls)
			checkTimeouts(t, f, limit)
		})
	}
}

var ocfSpec = dsl.Resource{Name: "vip", Kind: dsl.KindExec, StartTimeout: 20 * time.Second, StopTimeout: 30 * time.Second,
	Exec: &dsl.ExecSpec{Agent: "ocf:heartbeat:IPaddr2", OCFRoot: "/opt/ocf",
		Params: map[string]string{"ip": "192.0.2.10", "cidr_netmask": "24", "nic": "br0"}}}

const ocfAgent = "/opt/ocf/resource.d/heartbeat/IPaddr2"

func TestOCFEnvironment(t *testing.T) {
	f := newFake([]rule{on(ocfAgent + " start")})
	res := mustNew(t, ocfSpec, dsl.Tools{}, f)
	if err := res.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cmds := f.Cmds()
	if len(cmds) != 1 {
		t.Fatalf("calls %q", f.Calls())
	}
	want := []string{"OCF_ROOT=/opt/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=vip", "OCF_RESOURCE_PROVIDER=heartbeat", "OCF_RESOURCE_TYPE=IPaddr2",
		"OCF_RESKEY_CRM_meta_timeout=<ms>",
		"OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_ip=192.0.2.10", "OCF_RESKEY_nic=br0"}
	got := append([]string(nil), cmds[0].Env...)
	for i, kv := range got {
		if ms, found := strings.CutPrefix(kv, "OCF_RESKEY_CRM_meta_timeout="); found {
			n, err := strconv.Atoi(ms)
			if err != nil || n <= 0 || n > int(ocfSpec.StartTimeout/time.Millisecond) {
				t.Fatalf("meta timeout %q, want (0, %d] ms", ms, ocfSpec.StartTimeout/time.Millisecond)
			}
			got[i] = "OCF_RESKEY_CRM_meta_timeout=<ms>"
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("environment\n got %q\nwant %q", got, want)
	}
}

func TestOCFDefaultRoot(t *testing.T) {
	spec := ocfSpec
	spec.Exec = &dsl.ExecSpec{Agent: "ocf:linbit:drbd"}
	f := newFake([]rule{on("/usr/lib/ocf/resource.d/linbit/drbd monitor", runnertest.Answer{Code: 7})})
	res := mustNew(t, spec, dsl.Tools{}, f)
	st, err := res.Probe(context.Background())
	if err != nil || st.State != Stopped {
		t.Fatalf("Probe = %+v, %v (calls %q)", st, err, f.Calls())
	}
	if env := strings.Join(f.Cmds()[0].Env, " "); !strings.Contains(env, "OCF_ROOT=/usr/lib/ocf ") {
		t.Fatalf("OCF_ROOT not the default: %s", env)
	}
}

func TestOCFMonitorCodes(t *testing.T) {
	tests := []struct {
		code int
		want State
		name string
	}{
		{0, Running, "success"}, {1, Failed, "generic error"}, {2, Failed, "invalid arguments"},
		{3, Failed, "unimplemented action"}, {4, Failed, "insufficient permissions"},
		{5, Failed, "required software not installed"}, {6, Failed, "not configured"},
		{7, Stopped, "not running"}, {8, Running, "running promoted"}, {9, Failed, "failed promoted"},
		{190, Running, "running degraded"}, {191, Running, "running promoted degraded"}, {42, Failed, "unknown exit code"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			f := newFake([]rule{on(ocfAgent+" monitor", runnertest.Answer{Code: tt.code})})
			res := mustNew(t, ocfSpec, dsl.Tools{}, f)
			st, err := res.Probe(context.Background())
			want := Status{tt.want, fmt.Sprintf("monitor exit %d: %s", tt.code, tt.name)}
			if err != nil || st != want {
				t.Fatalf("Probe = %+v, %v; want %+v", st, err, want)
			}
		})
	}
}

func TestOCFStartStop(t *testing.T) {
	start, stop, monitor := ocfAgent+" start", ocfAgent+" stop", ocfAgent+" monitor"
	tests := []struct {
		name  string
		op    string
		rules []rule
		calls []string
		want  outcome
	}{
		{"start", "start", []rule{on(start)}, []string{start}, outcome{}},
		{"start: not installed", "start", []rule{on(start, fail(5, "ip: command not found"))}, []string{start},
			outcome{errHas: []string{"required software not installed", "exit code 5"}}},
		{"start: not configured", "start", []rule{on(start, fail(6, "IP address (the ip parameter) is mandatory"))}, []string{start},
			outcome{errHas: []string{"not configured"}}},
		{"start: not running afterwards (7)", "start", []rule{on(start, runnertest.Answer{Code: 7})}, []string{start},
			outcome{errHas: []string{"not running"}}},
		{"stop verified", "stop", []rule{on(stop), on(monitor, runnertest.Answer{Code: 7})}, []string{stop, monitor}, outcome{}},
		{"stop exits 0 but monitor says running", "stop", []rule{on(stop), on(monitor)}, []string{stop, monitor},
			outcome{errHas: []string{"stop exited 0", "monitor exit 0"}}},
		{"stop fails with a generic error", "stop", []rule{on(stop, fail(1, "cannot remove address")), on(monitor)}, []string{stop, monitor},
			outcome{errHas: []string{"generic error", "cannot remove address"}}},
		{"stop fails, monitor says stopped", "stop", []rule{on(stop, fail(1, "")), on(monitor, runnertest.Answer{Code: 7})}, []string{stop, monitor}, outcome{}},
		{"stop ok, monitor not configured is not proof", "stop", []rule{on(stop), on(monitor, runnertest.Answer{Code: 6})}, []string{stop, monitor},
			outcome{errHas: []string{"not configured"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, ocfSpec, dsl.Tools{}, f)
			var err error
			limit := ocfSpec.StartTimeout
			if tt.op == "start" {
				err = res.Start(context.Background())
			} else {
				err = res.Stop(context.Background())
				limit = ocfSpec.StopTimeout
			}
			tt.want.check(t, err, f.Calls())
			sameCalls(t, f.Calls(), tt.calls)
			checkTimeouts(t, f, limit)
		})
	}
}

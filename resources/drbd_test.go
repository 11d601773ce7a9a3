package resources

import (
	"context"
	"fmt"
	"testing"
	"time"

	"xhad/dsl"
	"xhad/internal/runner"
	"xhad/internal/runner/runnertest"
)

var drbdSpec = dsl.Resource{Name: "data", Kind: dsl.KindDRBD, DRBD: &dsl.DRBDSpec{Resource: "r0"},
	StartTimeout: 30 * time.Second, StopTimeout: 40 * time.Second}

const (
	statusSecondaryConnected = "r0 role:Secondary\n  disk:UpToDate\n  b role:Secondary\n    peer-disk:UpToDate\n\n"
	statusPeerPrimary        = "r0 role:Secondary\n  disk:UpToDate\n  b role:Primary\n    peer-disk:UpToDate\n\n"
	statusSecondaryAlone     = "r0 role:Secondary\n  disk:UpToDate\n  b connection:Connecting\n\n"
)

// stateChange renders drbdsetup's refusal of a state change and drbdadm's line.
func stateChange(code int, text string, exit int) runnertest.Answer {
	return fail(exit, fmt.Sprintf("r0: State change failed: (%d) %s\nCommand 'drbdsetup primary r0' terminated with exit code %d", code, text, exit))
}

func TestDRBDStart(t *testing.T) {
	full := []string{"drbdadm status r0", "drbdadm dstate r0", "drbdadm primary r0", "drbdadm role r0"}
	upToPrimary := full[:3]
	checks := full[:2]
	tests := []struct {
		name  string
		rules []rule
		calls []string
		want  outcome
	}{
		{"promotes an UpToDate secondary", []rule{
			on("drbdadm status r0", ok(statusSecondaryConnected)), on("drbdadm dstate r0", ok("UpToDate/UpToDate\n")),
			on("drbdadm primary r0"), on("drbdadm role r0", ok("Primary\n"))}, full, outcome{}},
		{"promotes while disconnected", []rule{
			on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", ok("UpToDate/DUnknown\n")),
			on("drbdadm primary r0"), on("drbdadm role r0", ok("Primary\n"))}, full, outcome{}},
		{"already Primary is success", []rule{on("drbdadm status r0", ok(statusPrimaryConnected))},
			full[:1], outcome{}},
		{"peer Primary in status", []rule{on("drbdadm status r0", ok(statusPeerPrimary))},
			full[:1], outcome{refusal: true, errHas: []string{"peer b is Primary"}}},
		{"SyncTarget", []rule{on("drbdadm status r0", ok(statusSyncTarget))},
			full[:1], outcome{refusal: true, errHas: []string{"SyncTarget", "0.08% done"}}},
		{"PausedSyncT", []rule{on("drbdadm status r0", ok("r0 role:Secondary\n  disk:Inconsistent\n  b role:Secondary\n    replication:PausedSyncT peer-disk:UpToDate done:5.00 resync-suspended:user\n\n"))},
			full[:1], outcome{refusal: true, errHas: []string{"PausedSyncT"}}},
	}
	for _, disk := range []string{"Inconsistent", "Outdated", "Consistent", "Diskless", "DUnknown", "Failed", "Attaching"} {
		tests = append(tests, struct {
			name  string
			rules []rule
			calls []string
			want  outcome
		}{"local disk " + disk, []rule{on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", ok(disk+"/DUnknown\n"))},
			checks, outcome{refusal: true, errHas: []string{"local disk is " + disk}}})
	}
	more := []struct {
		name  string
		rules []rule
		calls []string
		want  outcome
	}{
		{"second volume Outdated", []rule{on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", ok("UpToDate/DUnknown\nOutdated/DUnknown\n"))},
			checks, outcome{refusal: true, errHas: []string{"volume 1 is Outdated"}}},
		{"dstate garbage", []rule{on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", ok("Happy/Sad\n"))},
			checks, outcome{errHas: []string{`"Happy/Sad"`}}},
		{"status: resource not up (exit 10)", []rule{on("drbdadm status r0", fail(10, "r0: No such resource"))},
			full[:1], outcome{errHas: []string{"not up", "No such resource"}}},
		{"status: module missing (exit 20)", []rule{on("drbdadm status r0", fail(20, "modprobe: FATAL: Module drbd not found in directory /lib/modules/6.1.0\nFailed to modprobe drbd (No such file or directory)\nCommand 'drbdsetup status r0' terminated with exit code 20"))},
			full[:1], outcome{errHas: []string{"module", "exit code 20"}}},
		{"status: unparsable", []rule{on("drbdadm status r0", ok("r0 role:Secondary\n  disk UpToDate\n"))},
			full[:1], outcome{errHas: []string{`"  disk UpToDate"`}}},
		{"dstate: no such device (exit 10)", []rule{on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", fail(10, "r0: No such device"))},
			checks, outcome{errHas: []string{"not up"}}},
		{"dstate: module missing (exit 20)", []rule{on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", fail(20, "open(/dev/vg0/r0) failed: No such file or directory\nCommand 'drbdmeta 0 v09 /dev/vg0/r0 internal dstate' terminated with exit code 20"))},
			checks, outcome{errHas: []string{"module"}}},
	}
	tests = append(tests, more...)
	// Every refusal and failure drbdadm primary can report (reference section 3).
	primary := []struct {
		name   string
		answer runnertest.Answer
		want   outcome
	}{
		{"(-1) peer is Primary, exit 11", stateChange(-1, "Multiple primaries not allowed by config", 11), outcome{refusal: true, errHas: []string{"peer is Primary", "Multiple primaries"}}},
		{"(-2) no UpToDate data, exit 17", stateChange(-2, "Need access to UpToDate data", 17), outcome{refusal: true, errHas: []string{"no access to UpToDate data"}}},
		{"exit 17 without a message", fail(17, ""), outcome{refusal: true, errHas: []string{"no access to UpToDate data"}}},
		{"(-7) fencing failed, exit 11", stateChange(-7, "Refusing to be Primary while peer is not outdated", 11), outcome{refusal: true, errHas: []string{"peer not outdated, fencing failed"}}},
		{"(-10) refused by peer", stateChange(-10, "State change was refused by peer node", 11), outcome{refusal: true, errHas: []string{"refused by the peer"}}},
		{"(-16) disk lower than outdated, exit 5", stateChange(-16, "Disk state is lower than outdated", 5), outcome{refusal: true, errHas: []string{"lower than Outdated"}}},
		{"(-25) no quorum", stateChange(-25, "No quorum", 11), outcome{refusal: true, errHas: []string{"no quorum"}}},
		{"(-12) held open", stateChange(-12, "Device is held open by someone", 11), outcome{errHas: []string{"held open"}}},
		{"(-18) transient", stateChange(-18, "In transient state, retry after next state change", 11), outcome{errHas: []string{"transient"}}},
		{"(-19) concurrent", stateChange(-19, "Concurrent state changes detected and aborted", 11), outcome{errHas: []string{"concurrent state changes"}}},
		{"(-23) kernel timeout", stateChange(-23, "Timeout in operation", 11), outcome{errHas: []string{"timeout in the kernel"}}},
		{"(158) unknown resource, exit 10", fail(10, "r0: Failure: (158) Unknown resource\nCommand 'drbdsetup primary r0' terminated with exit code 10"), outcome{errHas: []string{"unknown resource", "not up"}}},
		{"8.4 (127) minor not allocated, exit 10", fail(10, "0: Failure: (127) Device minor not allocated\nadditional info from kernel:\nunknown minor\nCommand 'drbdsetup-84 primary 0' terminated with exit code 10"), outcome{errHas: []string{"minor not allocated"}}},
		{"module missing, exit 20", fail(20, "Failed to modprobe drbd (No such file or directory)"), outcome{errHas: []string{"module"}}},
		{"not in config, exit 1", fail(1, "'r0' not defined in your config (for this host)."), outcome{errHas: []string{"configuration", "not defined"}}},
		{"timeout", runnertest.Answer{Err: fmt.Errorf("drbdadm primary r0: %w after 30s", runner.ErrTimeout)}, outcome{is: runner.ErrTimeout}},
	}
	for _, p := range primary {
		tests = append(tests, struct {
			name  string
			rules []rule
			calls []string
			want  outcome
		}{"primary " + p.name, []rule{on("drbdadm status r0", ok(statusSecondaryAlone)), on("drbdadm dstate r0", ok("UpToDate/DUnknown\n")), on("drbdadm primary r0", p.answer)},
			upToPrimary, p.want})
	}
	tests = append(tests, struct {
		name  string
		rules []rule
		calls []string
		want  outcome
	}{"primary exits 0 but role stays Secondary", []rule{on("drbdadm status r0", ok(statusSecondaryAlone)),
		on("drbdadm dstate r0", ok("UpToDate/DUnknown\n")), on("drbdadm primary r0"), on("drbdadm role r0", ok("Secondary\n"))},
		full, outcome{errHas: []string{"role is Secondary"}}})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, drbdSpec, dsl.Tools{}, f)
			err := res.Start(context.Background())
			tt.want.check(t, err, f.Calls())
			sameCalls(t, f.Calls(), tt.calls)
			checkTimeouts(t, f, drbdSpec.StartTimeout)
		})
	}
}

func TestDRBDStop(t *testing.T) {
	both := []string{"drbdadm secondary r0", "drbdadm role r0"}
	tests := []struct {
		name  string
		rules []rule
		want  outcome
	}{
		{"demoted and verified", []rule{on("drbdadm secondary r0"), on("drbdadm role r0", ok("Secondary\n"))}, outcome{}},
		{"8.4 role output", []rule{on("drbdadm secondary r0"), on("drbdadm role r0", ok("Secondary/Unknown\n"))}, outcome{}},
		{"secondary exits 0 without the module: not proof", []rule{on("drbdadm secondary r0"),
			on("drbdadm role r0", fail(20, "Failed to modprobe drbd (No such file or directory)\nCommand 'drbdsetup role r0' terminated with exit code 20"))},
			outcome{errHas: []string{"cannot verify", "module"}}},
		{"held open by a running domain", []rule{
			on("drbdadm secondary r0", fail(11, "r0: State change failed: (-12) Device is held open by someone\nadditional info from kernel:\n/dev/drbd0 open_cnt:1, writable:1; list of openers follows\ndrbd0 opened by qemu-dm (pid 4242) at 2024-05-01 10:00:00.000")),
			on("drbdadm role r0", ok("Primary\n"))},
			outcome{errHas: []string{"held open", "qemu-dm"}}},
		{"secondary exits 0 but still Primary", []rule{on("drbdadm secondary r0"), on("drbdadm role r0", ok("Primary\n"))},
			outcome{errHas: []string{"still Primary"}}},
		{"resource not up counts as stopped", []rule{on("drbdadm secondary r0", fail(10, "r0: Failure: (158) Unknown resource")),
			on("drbdadm role r0", fail(10, "r0: Unknown resource"))}, outcome{}},
		{"secondary failed but role is Secondary", []rule{on("drbdadm secondary r0", stateChange(-19, "Concurrent state changes detected and aborted", 11)),
			on("drbdadm role r0", ok("Secondary\n"))}, outcome{}},
		{"secondary failed and role unreadable", []rule{on("drbdadm secondary r0", stateChange(-23, "Timeout in operation", 11)),
			on("drbdadm role r0", fail(20, "netlink"))}, outcome{errHas: []string{"timeout in the kernel", "cannot be verified"}}},
		{"odd role output", []rule{on("drbdadm secondary r0"), on("drbdadm role r0", ok("Sideways\n"))},
			outcome{errHas: []string{`"Sideways"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.rules)
			res := mustNew(t, drbdSpec, dsl.Tools{}, f)
			err := res.Stop(context.Background())
			tt.want.check(t, err, f.Calls())
			sameCalls(t, f.Calls(), both)
			checkTimeouts(t, f, drbdSpec.StopTimeout)
			if err != nil && IsRefusal(err) {
				t.Fatalf("a failed demotion is an operational error, not a refusal: %v", err)
			}
		})
	}
}

func TestDRBDProbe(t *testing.T) {
	tests := []struct {
		name   string
		answer runnertest.Answer
		want   Status
		errHas string
	}{
		{"primary", ok(statusPrimaryConnected), Status{Running, "Primary UpToDate/UpToDate Connected"}, ""},
		{"primary, fencing", ok(statusSuspendedFencing), Status{Running, "Primary UpToDate/DUnknown Connecting suspended:fencing"}, ""},
		{"secondary resyncing", ok(statusSyncTarget), Status{Stopped, "Secondary Inconsistent/UpToDate Connected SyncTarget 0.08%"}, ""},
		{"secondary standalone", ok(statusStandAlone), Status{Stopped, "Secondary UpToDate/DUnknown StandAlone"}, ""},
		{"primary without data", ok("r0 role:Primary\n  disk:Diskless\n  b connection:Connecting\n\n"),
			Status{Failed, "Primary Diskless/DUnknown Connecting (no access to UpToDate data)"}, ""},
		{"primary diskless reading from its peer", ok("r0 role:Primary\n  disk:Diskless\n  b role:Secondary\n    peer-disk:UpToDate\n\n"),
			Status{Running, "Primary Diskless/UpToDate Connected"}, ""},
		{"no peers", ok("r0 role:Secondary\n  disk:UpToDate\n\n"), Status{Stopped, "Secondary UpToDate no peers"}, ""},
		{"not up", fail(10, "r0: No such resource"), Status{Stopped, "resource is not up"}, ""},
		{"module missing", fail(20, "Failed to modprobe drbd"), Status{}, "module"},
		{"someone else's resource", ok("r1 role:Primary\n  disk:UpToDate\n\n"), Status{}, `printed resource "r1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake([]rule{on("/usr/sbin/drbdadm status r0", tt.answer)})
			res := mustNew(t, drbdSpec, dsl.Tools{Drbdadm: "/usr/sbin/drbdadm"}, f)
			st, err := res.Probe(context.Background())
			sameCalls(t, f.Calls(), []string{"/usr/sbin/drbdadm status r0"})
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

func TestDRBDHonoursContext(t *testing.T) {
	f := newFake([]rule{on("drbdadm status r0", ok(statusSecondaryAlone))})
	res := mustNew(t, drbdSpec, dsl.Tools{}, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, op := range map[string]func(context.Context) error{"start": res.Start, "stop": res.Stop} {
		if err := op(ctx); !errorsIsCanceled(err) {
			t.Fatalf("%s with a cancelled context: %v", name, err)
		}
	}
	if _, err := res.Probe(ctx); !errorsIsCanceled(err) {
		t.Fatalf("probe with a cancelled context: %v", err)
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("commands ran with a cancelled context: %q", calls)
	}
}

package resources

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"xhad/dsl"
	"xhad/internal/runner/runnertest"
)

func TestNewBuildsEachKind(t *testing.T) {
	tests := []struct {
		spec      dsl.Resource
		kind      dsl.Kind
		exclusive bool
		typeName  string
	}{
		{drbdSpec, dsl.KindDRBD, true, "*resources.DRBD"},
		{lvmSpec, dsl.KindLVM, true, "*resources.LVM"},
		{xenSpec(0, 0), dsl.KindXen, true, "*resources.Xen"},
		{lsbSpec, dsl.KindExec, true, "*resources.LSB"},
		{ocfSpec, dsl.KindExec, true, "*resources.OCF"},
		{dsl.Resource{Name: "vip", Kind: dsl.KindIP, IP: &dsl.IPSpec{Address: "192.0.2.1/24", Interface: "eth0"}}, dsl.KindIP, true, "*resources.IP"},
		{dsl.Resource{Name: "u", Kind: dsl.KindSystemd, Systemd: &dsl.SystemdSpec{Unit: "nfs.service"}}, dsl.KindSystemd, true, "*resources.Systemd"},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name, func(t *testing.T) {
			res := mustNew(t, tt.spec, dsl.Tools{}, &runnertest.Fake{})
			if res.Name() != tt.spec.Name || res.Kind() != tt.kind || res.Exclusive() != tt.exclusive {
				t.Fatalf("got name %q kind %q exclusive %v", res.Name(), res.Kind(), res.Exclusive())
			}
			if got := fmt.Sprintf("%T", res); got != tt.typeName {
				t.Fatalf("type %s, want %s", got, tt.typeName)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name     string
		spec     dsl.Resource
		errHas   string
		notBuilt bool
	}{
		{"database", dsl.Resource{Name: "db", Kind: dsl.KindDatabase}, "kind database without its settings", false},
		{"unknown kind", dsl.Resource{Name: "x", Kind: "zfs"}, `unknown kind "zfs"`, false},
		{"no name", dsl.Resource{Kind: dsl.KindLVM, LVM: &dsl.LVMSpec{VolumeGroup: "vg0"}}, "empty name", false},
		{"drbd without spec", dsl.Resource{Name: "d", Kind: dsl.KindDRBD}, "no DRBD resource name", false},
		{"lvm without vg", dsl.Resource{Name: "l", Kind: dsl.KindLVM, LVM: &dsl.LVMSpec{}}, "no volume group", false},
		{"xen without domain", dsl.Resource{Name: "x", Kind: dsl.KindXen, Xen: &dsl.XenSpec{Config: "/etc/xen/a.cfg"}}, "no domain name", false},
		{"xen without config", dsl.Resource{Name: "x", Kind: dsl.KindXen, Xen: &dsl.XenSpec{Domain: "a"}}, "no config file", false},
		{"exec with neither", dsl.Resource{Name: "e", Kind: dsl.KindExec, Exec: &dsl.ExecSpec{}}, "exactly one of script and agent", false},
		{"exec with both", dsl.Resource{Name: "e", Kind: dsl.KindExec, Exec: &dsl.ExecSpec{Script: "/s", Agent: "ocf:a:b"}}, "exactly one", false},
		{"agent not ocf", dsl.Resource{Name: "e", Kind: dsl.KindExec, Exec: &dsl.ExecSpec{Agent: "lsb:nfs"}}, "not ocf:PROVIDER:TYPE", false},
		{"agent path escape", dsl.Resource{Name: "e", Kind: dsl.KindExec, Exec: &dsl.ExecSpec{Agent: "ocf:../..:sh"}}, "not ocf:PROVIDER:TYPE", false},
		{"bad param name", dsl.Resource{Name: "e", Kind: dsl.KindExec, Exec: &dsl.ExecSpec{Agent: "ocf:heartbeat:IPaddr2", Params: map[string]string{"ip=1": "x"}}}, `"ip=1"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := New(tt.spec, dsl.Tools{}, &runnertest.Fake{})
			if err == nil {
				t.Fatalf("New = %T, want an error", res)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %q does not contain %q", err, tt.errHas)
			}
			if errors.Is(err, ErrNotBuilt) != tt.notBuilt {
				t.Fatalf("errors.Is(ErrNotBuilt) = %v, want %v: %v", !tt.notBuilt, tt.notBuilt, err)
			}
		})
	}
	if _, err := New(lvmSpec, dsl.Tools{}, nil); err == nil {
		t.Fatal("New with a nil runner succeeded")
	}
}

func TestStateString(t *testing.T) {
	for st, want := range map[State]string{Unknown: "unknown", Stopped: "stopped", Running: "running", Failed: "failed", State(9): "state(9)"} {
		if got := st.String(); got != want {
			t.Fatalf("State(%d).String() = %q, want %q", int(st), got, want)
		}
	}
}

func TestRefusalReadsWell(t *testing.T) {
	cause := errors.New("drbdadm primary r0: exit code 11: r0: State change failed: (-1) Multiple primaries not allowed by config")
	r := &Refusal{Resource: "data", Op: "start", Reason: "peer is Primary", Err: cause}
	want := "refusing to start data: peer is Primary: " + cause.Error()
	if r.Error() != want || !errors.Is(r, cause) || !IsRefusal(r) {
		t.Fatalf("Error() = %q (want %q), Is(cause) = %v", r.Error(), want, errors.Is(r, cause))
	}
	if IsRefusal(cause) {
		t.Fatal("a plain error is not a refusal")
	}
}

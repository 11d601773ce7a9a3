package fence

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestParseHandlerEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		want    HandlerEnv
		wantErr string
	}{
		{
			name: "drbd 9 as measured (reference 1.2)",
			env: strings.Fields("DRBD_CONF=/tmp/drbdtest/drbdh.conf DRBD_CSTATE=Connecting DRBD_LL_DISK=/dev/vg0/r0 DRBD_MINOR=0 DRBD_MINOR_0=0 " +
				"DRBD_MY_ADDRESS=10.0.0.1 DRBD_MY_AF=ipv4 DRBD_MY_NODE_ID=0 DRBD_NODE_ID_0=vm DRBD_NODE_ID_1=peer " +
				"DRBD_PEER_ADDRESS=10.0.0.2 DRBD_PEER_AF=ipv4 DRBD_PEER_NODE_ID=1 DRBD_RESOURCE=r0 DRBD_VOLUME=0 UP_TO_DATE_NODES=0x00000001"),
			want: HandlerEnv{Resource: "r0", PeerNode: "peer", PeerAddress: "10.0.0.2", PeerAF: "ipv4", MyAddress: "10.0.0.1",
				MyNodeID: "0", PeerNodeID: "1", Minors: []string{"0"}, CState: "Connecting", UpToDate: 1,
				Conf: "/tmp/drbdtest/drbdh.conf", Version: 9},
		},
		{
			name: "drbd 9, two volumes, kernel variables only for minors",
			env:  []string{"DRBD_RESOURCE=r1", "DRBD_PEER_NODE_ID=0", "DRBD_NODE_ID_0=xen1", "DRBD_MINOR_1=7", "DRBD_MINOR_0=6", "UP_TO_DATE_NODES=0x00000003"},
			want: HandlerEnv{Resource: "r1", PeerNode: "xen1", PeerNodeID: "0", Minors: []string{"6", "7"}, UpToDate: 3, Version: 9},
		},
		{
			name: "drbd 8.4 as measured (drbdadm-84)",
			env: []string{"DRBD_PEER_ADDRESS=10.0.0.2", "DRBD_CONF=/tmp/fd/h84.conf", "DRBD_PEER_AF=ipv4", "DRBD_PEER=xen2",
				"DRBD_RESOURCE=r0", "DRBD_PEERS=xen2", "DRBD_MINOR=0"},
			want: HandlerEnv{Resource: "r0", PeerNode: "xen2", PeerAddress: "10.0.0.2", PeerAF: "ipv4", Minors: []string{"0"},
				Conf: "/tmp/fd/h84.conf", Version: 8},
		},
		{
			name: "drbd 8.4, only DRBD_PEERS",
			env:  []string{"DRBD_RESOURCE=r0", "DRBD_PEERS=xen2"},
			want: HandlerEnv{Resource: "r0", PeerNode: "xen2", Version: 8},
		},
		{
			name: "drbd 8.4 kernel variables only: the address identifies the peer",
			env:  []string{"DRBD_RESOURCE=r0", "DRBD_PEER_ADDRESS=fd00::2", "DRBD_PEER_AF=ipv6"},
			want: HandlerEnv{Resource: "r0", PeerAddress: "fd00::2", PeerAF: "ipv6", Version: 8},
		},
		{name: "not run by drbd", env: []string{"HOME=/"}, wantErr: "DRBD_RESOURCE is not set (not run by DRBD?)"},
		{name: "no peer", env: []string{"DRBD_RESOURCE=r0", "DRBD_PEERS=a b"}, wantErr: "cannot tell the peer"},
		{name: "bad node id", env: []string{"DRBD_RESOURCE=r0", "DRBD_PEER_NODE_ID=x"}, wantErr: `DRBD_PEER_NODE_ID="x" is not a node id`},
		{name: "bad mask", env: []string{"DRBD_RESOURCE=r0", "DRBD_PEER=b", "UP_TO_DATE_NODES=zz"}, wantErr: "not a hexadecimal mask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHandlerEnv(envOf(tt.env...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q (got env %+v)", err, tt.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestExitFor(t *testing.T) {
	tests := []struct {
		o       Outcome
		code    int
		whyPart string
	}{
		{Outcome{Kind: PeerReplied, Code: 0}, 4, "outdated"},
		{Outcome{Kind: PeerReplied, Code: 5}, 3, "Inconsistent"},
		{Outcome{Kind: PeerReplied, Code: 17}, 6, "Primary"},
		{Outcome{Kind: PeerReplied, Code: 20, Stderr: "Device '0' is configured!\nCommand 'drbdmeta' terminated"}, 100, "Device '0' is configured!)"},
		{Outcome{Kind: PeerReplied, Code: 10, Stderr: "r0: Failure: (158) Unknown resource"}, 100, "exited 10: r0: Failure"},
		{Outcome{Kind: PeerReplied, Code: 11}, 100, "exited 11"},
		{Outcome{Kind: PeerReplied, Code: 16}, 100, "exited 16"},
		{Outcome{Kind: PeerReplied, Code: 1}, 100, "exited 1"},
		{Outcome{Kind: PeerReplied, Code: 127}, 100, "exited 127"},
		{Outcome{Kind: PeerReplied, Code: -1}, 100, "exited -1"},
		{Outcome{Kind: PeerUnreachable}, 5, "unreachable"},
		{Outcome{Kind: TimedOut}, 100, "no answer"},
		{Outcome{Kind: DaemonNotRunning}, 100, "not running and no peer fence"},
		{Outcome{Kind: DaemonNotRunning, PeerFenceInPlace: true}, 5, "peer fence is in place"},
		{Outcome{}, 100, "unknown outcome"},
	}
	for _, tt := range tests {
		code, why := ExitFor(tt.o)
		if code != tt.code || !strings.Contains(why, tt.whyPart) {
			t.Errorf("ExitFor(%+v) = %d %q, want %d and a reason containing %q", tt.o, code, why, tt.code, tt.whyPart)
		}
	}
}

// Every outcome maps to a code the kernel understands as intended: never 0 or
// 1 (accidental success/failure) and never 7 (needs a power switch).
func TestExitForNeverZeroOneSeven(t *testing.T) {
	for kind := OutcomeKind(0); kind <= DaemonNotRunning+1; kind++ {
		for code := -2; code < 260; code++ {
			for _, fenced := range []bool{false, true} {
				got, why := ExitFor(Outcome{Kind: kind, Code: code, PeerFenceInPlace: fenced})
				if got == 0 || got == 1 || got == 7 || got < 0 || got > 255 || why == "" {
					t.Fatalf("ExitFor(%v, code %d, fenced %t) = %d %q", kind, code, fenced, got, why)
				}
			}
		}
	}
}

func TestDecide(t *testing.T) {
	code, why := Decide(context.Background(), time.Minute, func(context.Context) Outcome {
		return Outcome{Kind: PeerReplied, Code: 0}
	})
	if code != ExitPeerOutdated {
		t.Errorf("Decide with an answer = %d %q, want 4", code, why)
	}
	// An ask that never answers on its own: Decide returns at the deadline
	// and cancels the ask's context.
	cancelled := make(chan struct{})
	code, why = Decide(context.Background(), 50*time.Millisecond, func(ctx context.Context) Outcome {
		<-ctx.Done()
		close(cancelled)
		select {} // never returns, like a hung daemon connection
	})
	if code != ExitNotFenced || !strings.Contains(why, "after 50ms") {
		t.Errorf("Decide with no answer = %d %q, want 100 and the time limit", code, why)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the ask's context was not cancelled")
	}
}

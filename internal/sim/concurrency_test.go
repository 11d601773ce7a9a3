package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"xhad/internal/runner"
)

// journalCounts counts events by kind.
func journalCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	events, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkContiguous(events); err != nil {
		t.Fatal(err)
	}
	if err := CheckInvariants(events, nil); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range events {
		counts[e.Kind]++
	}
	return counts
}

func assertOnlyDomain0(t *testing.T, dir string) {
	t.Helper()
	for _, node := range []string{"a", "b"} {
		out, errOut, code := Exec(dir, node, "xl", "list")
		if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "Domain-0") {
			t.Fatalf("xl list on %s after the run: exit %d %q\n%s", node, code, errOut, out)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file corrupt: %v", err)
	}
}

// Many goroutines of both nodes create, list and destroy domains at once
// through the public Exec; every change must reach the journal exactly once.
func TestConcurrentGoroutinesKeepStateAndJournalWhole(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{Nodes: [2]string{"a", "b"}, DRBD: r0("", "")}); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 6, 4
	var wg sync.WaitGroup
	errs := make(chan string, 2*workers*rounds*4)
	for _, node := range []string{"a", "b"} {
		for w := range workers {
			cfg := filepath.Join(t.TempDir(), "d.cfg")
			name := fmt.Sprintf("%s-dom%d", node, w)
			if err := os.WriteFile(cfg, []byte("name = \""+name+"\"\nmemory = 64\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					for _, args := range [][]string{{"xl", "create", cfg}, {"xl", "list", name}, {"drbdadm", "status", "r0"}, {"xl", "destroy", name}} {
						if _, errOut, code := Exec(dir, node, args[0], args[1:]...); code != 0 {
							errs <- fmt.Sprintf("%s %v: exit %d %s", node, args, code, errOut)
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	counts := journalCounts(t, dir)
	want := 2 * workers * rounds
	if counts[kindDomainStart] != want || counts[kindDomainRunning] != want || counts[kindDomainStop] != want {
		t.Fatalf("journal has %d starts, %d running, %d stops; want %d of each", counts[kindDomainStart], counts[kindDomainRunning], counts[kindDomainStop], want)
	}
	assertOnlyDomain0(t, dir)
}

// Separate processes (this test binary behind xl and drbdadm symlinks) of
// both nodes work on one state directory at once.
func TestConcurrentProcessesKeepStateAndJournalWhole(t *testing.T) {
	tools := toolDir(t)
	dir := t.TempDir()
	if err := Init(dir, InitOptions{Nodes: [2]string{"a", "b"}, DRBD: r0("", "")}); err != nil {
		t.Fatal(err)
	}
	const perNode = 6
	var wg sync.WaitGroup
	errs := make(chan string, 2*perNode*3)
	run := func(node string, argv ...string) {
		res, err := runner.Exec{}.Run(context.Background(), runner.Cmd{Path: filepath.Join(tools, argv[0]), Args: argv[1:],
			Env: []string{EnvDir + "=" + dir, EnvNode + "=" + node}})
		if err != nil {
			errs <- fmt.Sprintf("%s %v: %v (stdout %q)", node, argv, err, res.Stdout)
		}
	}
	for _, node := range []string{"a", "b"} {
		for i := range perNode {
			cfg := filepath.Join(t.TempDir(), "p.cfg")
			name := fmt.Sprintf("%s-proc%d", node, i)
			if err := os.WriteFile(cfg, []byte("name = \""+name+"\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(node, "xl", "create", cfg)
				run(node, "drbdadm", "role", "r0")
				run(node, "xl", "destroy", name)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	counts := journalCounts(t, dir)
	if counts[kindDomainStart] != 2*perNode || counts[kindDomainStop] != 2*perNode {
		t.Fatalf("journal has %d starts and %d stops, want %d each", counts[kindDomainStart], counts[kindDomainStop], 2*perNode)
	}
	assertOnlyDomain0(t, dir)
}

// Both nodes race to promote and demote a connected resource: the simulated
// kernel refuses a second Primary every time, and the journal proves it.
func TestConcurrentPromotionsNeverMakeTwoPrimaries(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{Nodes: [2]string{"a", "b"}, DRBD: r0(fencingResourceOnly, "/bin/false")}); err != nil {
		t.Fatal(err)
	}
	const rounds = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[int]int{}
	for _, node := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				_, errOut, code := Exec(dir, node, "drbdadm", "primary", "r0")
				mu.Lock()
				outcomes[code]++
				mu.Unlock()
				if code == 11 && !strings.Contains(errOut, "(-1) Multiple primaries not allowed by config") {
					t.Errorf("%s: unexpected refusal %q", node, errOut)
				}
				if code == 0 {
					if _, errOut, code := Exec(dir, node, "drbdadm", "secondary", "r0"); code != 0 {
						t.Errorf("%s secondary: exit %d %q", node, code, errOut)
					}
				}
			}
		}()
	}
	wg.Wait()
	if outcomes[0]+outcomes[11] != 2*rounds || outcomes[0] == 0 {
		t.Fatalf("exit codes of the promotions: %v", outcomes)
	}
	counts := journalCounts(t, dir)
	if counts[kindDRBDPrimary] != outcomes[0] || counts[kindDRBDSecondary] != outcomes[0] || counts[kindRefusal] != outcomes[11] {
		t.Fatalf("journal %v does not match the outcomes %v", counts, outcomes)
	}
}

// Both nodes, cut off from each other, try to promote at the same moment,
// each fencing the other through the simulator (outdate-peer.sh style). At
// most one may win in every round.
func TestConcurrentFencedPromotionsNeverMakeTwoPrimaries(t *testing.T) {
	tools := toolDir(t)
	script := writeHandler(t, `tools=$1
eval peer=\$DRBD_NODE_ID_$DRBD_PEER_NODE_ID
XHAD_SIM_NODE=$peer "$tools/drbdadm" outdate "$DRBD_RESOURCE"
case $? in 0) exit 4;; 5) exit 3;; 17) exit 6;; *) exit 5;; esac
`)
	dir := t.TempDir()
	if err := Init(dir, InitOptions{Nodes: [2]string{"a", "b"}, DRBD: r0(fencingResourceOnly, script+" "+tools)}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"set", "resync-time", "0s"}, {"disconnect", "r0"}} {
		if err := Ctl(dir, args...); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 5
	wins := 0
	for round := range rounds {
		codes := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, node := range []string{"a", "b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, code := Exec(dir, node, "drbdadm", "primary", "r0")
				mu.Lock()
				codes[node] = code
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes["a"] == 0 && codes["b"] == 0 {
			t.Fatalf("round %d: both nodes promoted", round)
		}
		for node, code := range codes {
			switch code {
			case 0:
				wins++
				if _, errOut, code := Exec(dir, node, "drbdadm", "secondary", "r0"); code != 0 {
					t.Fatalf("demote %s: %s", node, errOut)
				}
			case 17, 11:
			default:
				t.Fatalf("round %d: %s primary exited %d", round, node, code)
			}
		}
		// Heal the link: the resync (instant here) makes both UpToDate again;
		// when both were outdated nobody has good data, so restore it.
		for _, args := range [][]string{{"connect", "r0"}, {"disk", "r0", "a", "UpToDate"}, {"disk", "r0", "b", "UpToDate"}, {"disconnect", "r0"}} {
			if err := Ctl(dir, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	counts := journalCounts(t, dir)
	if counts[kindDRBDPrimary] != wins || counts[kindFenceHandler] < rounds {
		t.Fatalf("journal has %d promotions and %d handler runs; the commands reported %d wins in %d rounds",
			counts[kindDRBDPrimary], counts[kindFenceHandler], wins, rounds)
	}
}

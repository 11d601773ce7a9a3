package daemon_test

import (
	"fmt"
	"strings"
	"testing"

	"xhad/dbrepl/dbtest"
	"xhad/internal/testbed"
)

// TestDatabaseFailoverWithTwoDaemons: two daemons guard a real MariaDB
// master-master pair (kind database). The active node's daemon and database
// are killed; the standby promotes its server only through the gate, and the
// rows acknowledged before the crash are all there. With a replica that has
// not applied the writer's last transactions (a delayed replica) the gate
// refuses, the node says why and stays STANDBY, and `xhad takeover --force`
// promotes it and says so.
func TestDatabaseFailoverWithTwoDaemons(t *testing.T) {
	for _, delayed := range []bool{false, true} {
		t.Run(fmt.Sprintf("delayed=%v", delayed), func(t *testing.T) {
			if testing.Short() {
				t.Skip("end-to-end database test")
			}
			pair := dbtest.StartMariaDBPair(t)
			groups := pair.GroupTOML(t, t.TempDir(), "")
			p := testbed.NewPair(t, testbed.PairOptions{Serial: true, Groups: groups})
			p.A.Start()
			p.B.Start()
			p.A.WaitRole("db", "ACTIVE", wait)
			if ro := pair.Query(t, 0, "SELECT @@read_only"); ro != "0" {
				t.Fatalf("a's server after the start-up: read_only=%s, want 0", ro)
			}
			// a promoted its server and stopped its own replica, as the gate
			// does: replication now runs a -> b only.
			caughtUp := func() {
				t.Helper()
				testbed.WaitFor(t, wait, "b's server to apply a's binlog", func() (bool, string) {
					want := pair.Query(t, 0, "SELECT @@gtid_binlog_pos")
					got := pair.Query(t, 1, "SELECT @@gtid_slave_pos")
					return strings.Contains(","+got+",", ","+want+","), "a wrote " + want + ", b applied " + got
				})
			}
			pair.Exec(t, 0, "CREATE TABLE hatest.acked (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
			caughtUp()
			if delayed {
				pair.Exec(t, 1, "STOP SLAVE")
				pair.Exec(t, 1, "CHANGE MASTER TO MASTER_DELAY=3600")
				pair.Exec(t, 1, "START SLAVE")
			}
			for i := 0; i < 100; i++ {
				pair.Exec(t, 0, "INSERT INTO hatest.acked (v) VALUES (?)", i)
			}
			if !delayed {
				caughtUp()
			}
			p.B.WaitHeartbeats("udp", 5, wait) // b observes a's writer position meanwhile

			p.A.Kill()      // the active node's daemon ...
			pair.Kill(t, 0) // ... and its database
			if !delayed {
				p.B.WaitRole("db", "ACTIVE", wait)
				if n := pair.Query(t, 1, "SELECT COUNT(*) FROM hatest.acked"); n != "100" {
					t.Fatalf("rows on the promoted server: %s, want the 100 acknowledged", n)
				}
				if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "0" {
					t.Fatalf("b's server not writable after the takeover: read_only=%s", ro)
				}
				if !p.B.Log.Contains("replication gate allowed the promotion") {
					t.Errorf("the allowed promotion is not logged with its verdict:\n%s", p.B.Log.Tail(20))
				}
				return
			}
			testbed.WaitFor(t, wait, "b to refuse the promotion with the gate's reason", func() (bool, string) {
				st, err := p.B.Status()
				if err != nil {
					return false, err.Error()
				}
				g := st.Groups[0]
				gate := g.Resources[0].Gate // kept after the rollback, for `xhad status`
				return g.Role == "STANDBY" && g.Ineligible && strings.Contains(p.B.Log.String(), "replication gate refused the promotion") &&
						gate != nil && gate.Verdict == "refused" && len(gate.Reasons) > 0,
					fmt.Sprintf("%s %q gate %+v", g.Role, g.Waiting, gate)
			})
			if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "1" {
				t.Fatalf("the refused server was opened: read_only=%s", ro)
			}
			if resp, err := p.B.Command("takeover", map[string]string{"force": "true"}); err != nil || !resp.OK {
				t.Fatalf("takeover --force: %v %+v", err, resp)
			}
			p.B.WaitRole("db", "ACTIVE", wait)
			if !p.B.Log.Contains("database replication gate is overridden") {
				t.Errorf("the forced promotion is not logged as such:\n%s", p.B.Log.Tail(20))
			}
			if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "0" {
				t.Fatalf("b's server not writable after takeover --force: read_only=%s", ro)
			}
		})
	}
}

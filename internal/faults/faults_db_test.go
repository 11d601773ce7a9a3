package faults

import (
	"fmt"
	"strings"
	"testing"

	"xhad/daemon"
	"xhad/dbrepl/dbtest"
	"xhad/internal/netbed"
	"xhad/internal/testbed"
)

// dbGroup returns node n's view of group name, its database resource's
// detail and gate verdict, with a one-line summary for waits.
func dbGroup(n *netbed.Node, name string) (g daemon.GroupReport, detail string, gate *daemon.GateReport, seen string) {
	st, err := n.Status()
	if err != nil {
		return g, "", nil, err.Error()
	}
	for _, x := range st.Groups {
		if x.Name != name {
			continue
		}
		for _, r := range x.Resources {
			if r.Kind == "database" {
				detail, gate = r.Detail, r.Gate
			}
		}
		return x, detail, gate, fmt.Sprintf("%s: group %s %s peer-alive=%v waiting=%q last-start-failed=%v database %q gate %+v",
			n.Name, name, x.Role, st.Peer.Alive, x.Waiting, x.Ineligible, detail, gate)
	}
	return g, "", nil, fmt.Sprintf("%s: no group %s in status", n.Name, name)
}

// startDBBed makes a bed with group "db" beside "main", starts both
// daemons, waits for a ACTIVE and b STANDBY in both groups, checks that b
// replicates from a over dl0, and creates table hatest.acked (applied on b).
func startDBBed(t *testing.T) (*netbed.Bed, *dbtest.MariaDBPair) {
	t.Helper()
	if !testing.Short() {
		dbtest.Require(t, []string{dbtest.MariaDBD, dbtest.MariaDBInstall}, "mysql")
	}
	b := newBed(t, netbed.Options{Database: true})
	pair := b.MariaDB()
	startPair(t, b)
	b.A.WaitRole("db", "ACTIVE", wait)
	b.B.WaitRole("db", "STANDBY", wait)
	if ro := pair.Query(t, 0, "SELECT @@read_only"); ro != "0" {
		t.Fatalf("a's server after the start-up: read_only=%s, want 0 (a holds group db)", ro)
	}
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "1" {
		t.Fatalf("b's server after the start-up: read_only=%s, want 1 (b is STANDBY)", ro)
	}
	// b replicates from a's dedicated-link address, not over loopback.
	st := pair.SlaveStatus(t, 1)
	if want := b.DatabaseAddr(b.A); st["Master_Host"]+":"+st["Master_Port"] != want || st["Slave_IO_Running"] != "Yes" {
		t.Fatalf("b's replica: master %s:%s IO thread %s, want %s running (over dl0)", st["Master_Host"], st["Master_Port"], st["Slave_IO_Running"], want)
	}
	pair.Exec(t, 0, "CREATE TABLE hatest.acked (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	appliedOnB(t, pair)
	return b, pair
}

// appliedOnB waits until b's server has applied everything a's wrote.
func appliedOnB(t *testing.T, pair *dbtest.MariaDBPair) {
	t.Helper()
	testbed.WaitFor(t, wait, "b's server to apply a's binlog", func() (bool, string) {
		want := pair.Query(t, 0, "SELECT @@gtid_binlog_pos")
		got := pair.Query(t, 1, "SELECT @@gtid_slave_pos")
		return strings.Contains(","+got+",", ","+want+","), "a wrote " + want + ", b applied " + got
	})
}

// TestDatabaseCaughtUpPromotesOverTheLink is the control of the lagging
// case: the same bed with b's replica caught up; a's host crashes, the gate
// on b allows the promotion by itself, and all 100 rows are there.
func TestDatabaseCaughtUpPromotesOverTheLink(t *testing.T) {
	b, pair := startDBBed(t)
	for i := 0; i < 100; i++ {
		pair.Exec(t, 0, "INSERT INTO hatest.acked (v) VALUES (?)", i)
	}
	appliedOnB(t, pair)
	b.B.WaitHeartbeats("udp", 5, wait) // b's daemon polls a's writer position meanwhile

	b.CrashHost(b.A)
	pair.Kill(t, 0)

	b.B.WaitRole("main", "ACTIVE", wait)
	b.B.WaitRole("db", "ACTIVE", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
	if n := pair.Query(t, 1, "SELECT COUNT(*) FROM hatest.acked"); n != "100" {
		t.Fatalf("rows on the promoted server: %s, want the 100 acknowledged", n)
	}
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "0" {
		t.Fatalf("b's server not writable after the takeover: read_only=%s", ro)
	}
	if !b.B.Log.Contains("replication gate allowed the promotion") || b.B.Log.Contains("database replication gate is overridden") {
		t.Errorf("want the gate's allowed promotion logged, without --force:\n%s", b.B.Log.Tail(20))
	}
}

// TestDatabaseLaggingPastTheLimit: a MariaDB server in each host's
// namespace, replicating over the dedicated link, guarded by group "db"
// beside group "main". b's replica is delayed (MASTER_DELAY=3600) while a
// writes 100 rows; then a's host crashes and its server dies. The gate on b
// refuses: group db stays STANDBY, `status --json` shows its last start
// failed and why it waits, the log line names the gate's reasons, and b's
// server stays read_only, also through the lone node's retries. Group main
// does not depend on the database: it moves to b as after any crash
// (service address and domain on b). `takeover --force` on b then promotes
// the database past the gate, the log and the status say it was forced,
// and the 100 delayed rows are missing on b (the loss --force accepts).
func TestDatabaseLaggingPastTheLimit(t *testing.T) {
	b, pair := startDBBed(t)
	pair.Exec(t, 1, "STOP SLAVE")
	pair.Exec(t, 1, "CHANGE MASTER TO MASTER_DELAY=3600")
	pair.Exec(t, 1, "START SLAVE")
	for i := 0; i < 100; i++ {
		pair.Exec(t, 0, "INSERT INTO hatest.acked (v) VALUES (?)", i)
	}
	// Everything reached b's relay log over dl0, none of it is applied.
	written := pair.Query(t, 0, "SELECT @@gtid_binlog_pos")
	testbed.WaitFor(t, wait, "b's IO thread to receive a's last transaction", func() (bool, string) {
		io := pair.SlaveStatus(t, 1)["Gtid_IO_Pos"]
		return strings.Contains(","+io+",", ","+written+","), "a wrote " + written + ", b received " + io
	})
	if n := pair.Query(t, 1, "SELECT COUNT(*) FROM hatest.acked"); n != "0" {
		t.Fatalf("the delayed replica applied %s rows before the crash, want 0", n)
	}
	b.B.WaitHeartbeats("udp", 5, wait) // b's daemon polls a's writer position meanwhile

	b.CrashHost(b.A) // links down, a's daemon kill -9, its domains and DRBD gone
	pair.Kill(t, 0)  // ... and its database server

	// Group main moves to b, as after any crash of the active host.
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
	// Group db: the gate refuses. status --json shows the group STANDBY
	// with its last start failed, why it waits, and the gate's verdict and
	// reasons; the log line of the refusal names them too.
	var gate *daemon.GateReport
	testbed.WaitFor(t, wait, "b to refuse the promotion with the gate's reason", func() (bool, string) {
		g, _, gt, seen := dbGroup(b.B, "db")
		gate = gt
		return g.Role == "STANDBY" && g.Ineligible && strings.Contains(g.Waiting, "last start here failed") &&
			gt != nil && gt.Verdict == "refused" && refusal(b.B) != "", seen
	})
	reasons := strings.Join(gate.Reasons, "; ")
	for _, text := range []string{refusal(b.B), reasons} {
		if !strings.Contains(text, "delayed replica (SQL_Delay=3600") || !strings.Contains(text, "received transactions not applied") {
			t.Errorf("the refusal does not name the delayed replica and the unapplied transactions:\n%s", text)
		}
	}
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "1" {
		t.Fatalf("the refused server was opened: read_only=%s", ro)
	}
	// Refused for good: the lone node's retry (every 4 x deadtime) refuses
	// again (STANDBY -> STARTING -> STANDBY), the replica stays an hour
	// behind; it never promotes by itself.
	testbed.WaitFor(t, wait, "b to retry the promotion and be refused again", func() (bool, string) {
		g, _, _, seen := dbGroup(b.B, "db")
		if g.Role == "ACTIVE" {
			t.Fatalf("b promoted the lagging database without --force: %s", seen)
		}
		n := strings.Count(b.B.Log.String(), "replication gate refused the promotion")
		return n >= 2, fmt.Sprintf("%d refusals logged; %s", n, seen)
	})
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "1" {
		t.Fatalf("the refused server was opened on the retry: read_only=%s", ro)
	}

	if resp, err := b.B.Command("takeover", map[string]string{"force": "true"}); err != nil || !resp.OK {
		t.Fatalf("takeover --force on b: %v %+v", err, resp)
	}
	b.B.WaitRole("db", "ACTIVE", wait)
	if !b.B.Log.Contains("database replication gate is overridden") {
		t.Errorf("the forced promotion is not logged as such:\n%s", b.B.Log.Tail(20))
	}
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "0" {
		t.Fatalf("b's server not writable after takeover --force: read_only=%s", ro)
	}
	testbed.WaitFor(t, wait, "b's status to show the forced gate", func() (bool, string) {
		_, detail, gt, seen := dbGroup(b.B, "db")
		return strings.Contains(detail, "gate FORCED past:") && gt != nil && gt.Verdict == "forced", seen
	})
	// What --force accepted: the 100 rows a wrote after the delay was set
	// were received by b but never applied; the promoted server lacks them.
	if n := pair.Query(t, 1, "SELECT COUNT(*) FROM hatest.acked"); n != "0" {
		t.Errorf("rows on b after the forced promotion: %s, want 0 (all 100 were behind the hour's delay)", n)
	}
	// Group main stayed on b.
	if role, seen := b.B.Role("main"); role != "ACTIVE" {
		t.Fatalf("group main on b after takeover --force: %s, want ACTIVE", seen)
	}
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
}

// refusal returns the first log line of n with the gate's refusal, or "".
func refusal(n *netbed.Node) string {
	for _, line := range strings.Split(n.Log.String(), "\n") {
		if strings.Contains(line, "replication gate refused the promotion") {
			return line
		}
	}
	return ""
}

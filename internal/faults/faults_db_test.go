package faults

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

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
	b := newBed(t, netbed.Options{Database: netbed.DatabaseMariaDB})
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

	crashAndPromote(t, b, func() { pair.Kill(t, 0) })
	if n := pair.Query(t, 1, "SELECT COUNT(*) FROM hatest.acked"); n != "100" {
		t.Fatalf("rows on the promoted server: %s, want the 100 acknowledged", n)
	}
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "0" {
		t.Fatalf("b's server not writable after the takeover: read_only=%s", ro)
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

	gate := crashAndRefuse(t, b, func() { pair.Kill(t, 0) })
	reasons := strings.Join(gate.Reasons, "; ")
	for _, text := range []string{refusal(b.B), reasons} {
		if !strings.Contains(text, "delayed replica (SQL_Delay=3600") || !strings.Contains(text, "received transactions not applied") {
			t.Errorf("the refusal does not name the delayed replica and the unapplied transactions:\n%s", text)
		}
	}
	// Refused for good (the replica stays an hour behind), until --force.
	refusedUntilForced(t, b, func() (bool, string) {
		ro := pair.Query(t, 1, "SELECT @@read_only")
		return ro == "1", "read_only=" + ro
	})
	if ro := pair.Query(t, 1, "SELECT @@read_only"); ro != "0" {
		t.Fatalf("b's server not writable after takeover --force: read_only=%s", ro)
	}
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

// startPGBed makes a bed with a PostgreSQL primary on a and a streaming hot
// standby on b (group "db" beside "main"), starts both daemons, waits for a
// ACTIVE and b STANDBY in both groups, checks that a's server is the
// primary and that b's streams from a over dl0, and creates table acked
// (replayed on b).
func startPGBed(t *testing.T) (*netbed.Bed, *dbtest.PGPair) {
	t.Helper()
	if !testing.Short() {
		dbtest.Require(t, []string{dbtest.PGBin + "/postgres", dbtest.PGBin + "/initdb", dbtest.PGBin + "/pg_basebackup"}, "postgres")
	}
	b := newBed(t, netbed.Options{Database: netbed.DatabasePostgreSQL})
	pair := b.Postgres()
	startPair(t, b)
	b.A.WaitRole("db", "ACTIVE", wait)
	b.B.WaitRole("db", "STANDBY", wait)
	if rec := pair.Query(t, 0, "SELECT pg_is_in_recovery()::text"); rec != "false" {
		t.Fatalf("a's server after the start-up: pg_is_in_recovery=%s, want false (a holds group db)", rec)
	}
	if rec := pair.Query(t, 1, "SELECT pg_is_in_recovery()::text"); rec != "true" {
		t.Fatalf("b's server after the start-up: pg_is_in_recovery=%s, want true (b is STANDBY)", rec)
	}
	// b streams from a's dedicated-link address, not over loopback.
	from := pair.Query(t, 1, "SELECT coalesce((SELECT status || ' ' || sender_host || ':' || sender_port FROM pg_stat_wal_receiver), 'no receiver')")
	if want := "streaming " + b.DatabaseAddr(b.A); from != want {
		t.Fatalf("b's WAL receiver: %q, want %q (over dl0)", from, want)
	}
	pair.Exec(t, 0, "CREATE TABLE acked (id serial PRIMARY KEY, v int, pad text)")
	pair.WaitReplayed(t, 1, 0)
	return b, pair
}

// TestPostgresCaughtUpPromotesOverTheLink is the control of the lagging
// case: the same bed with b's standby caught up; a's host crashes, the gate
// on b allows the promotion by itself, and all 100 rows are there.
func TestPostgresCaughtUpPromotesOverTheLink(t *testing.T) {
	b, pair := startPGBed(t)
	for i := 0; i < 100; i++ {
		pair.Exec(t, 0, "INSERT INTO acked (v) VALUES ($1)", i)
	}
	pair.WaitReplayed(t, 1, 0)
	b.B.WaitHeartbeats("udp", 5, wait) // b's daemon polls a's WAL position meanwhile

	crashAndPromote(t, b, func() { pair.Kill(t, 0) })
	if rec := pair.Query(t, 1, "SELECT pg_is_in_recovery()::text"); rec != "false" {
		t.Fatalf("b's server after the takeover: pg_is_in_recovery=%s, want false (promoted)", rec)
	}
	if n := pair.Query(t, 1, "SELECT count(*)::text FROM acked"); n != "100" {
		t.Fatalf("rows on the promoted server: %s, want the 100 acknowledged", n)
	}
	pair.Exec(t, 1, "INSERT INTO acked (v) VALUES (100)") // writable
	testbed.WaitFor(t, wait, "b's status to show the allowed gate", func() (bool, string) {
		_, detail, gt, seen := dbGroup(b.B, "db")
		return strings.HasPrefix(detail, "primary, timeline 2;") && strings.Contains(detail, "gate allowed") && gt != nil && gt.Verdict == "allowed", seen
	})
}

// TestPostgresLaggingPastTheLimit: a PostgreSQL primary in a's namespace
// and a hot standby in b's streaming from it over the dedicated link,
// guarded by group "db" beside group "main". b's WAL replay is paused while
// a writes 100 rows (received by b, not replayed); then b's WAL receiver is
// cut off (primary_conninfo emptied, the receiver terminated) and a writes
// more than max-lag-bytes of WAL that b never receives, while b's daemon
// keeps reading a's position over dl0. Then a's host crashes and its
// server dies. The gate on b refuses (bytes behind the last known primary
// position): group db stays STANDBY, `status --json` shows the verdict and
// reasons, the log line names them, b's server stays in recovery, also
// through the lone node's retries. Group main moves to b as after any
// crash. `takeover --force` on b then promotes past the gate (logged and
// shown as forced): replay resumes, so the 100 received rows are there,
// and the 5000 rows b never received are lost (what --force accepts).
func TestPostgresLaggingPastTheLimit(t *testing.T) {
	b, pair := startPGBed(t)
	pair.Exec(t, 1, "SELECT pg_wal_replay_pause()")
	pair.Exec(t, 0, "INSERT INTO acked (v) SELECT g FROM generate_series(1, 100) g")
	received := pair.Query(t, 0, "SELECT pg_current_wal_lsn()::text")
	testbed.WaitFor(t, wait, "b to receive a's 100 rows with replay paused", func() (bool, string) {
		got, err := pair.TryQuery(1, "SELECT (pg_last_wal_receive_lsn() >= $1::pg_lsn AND pg_get_wal_replay_pause_state() = 'paused')::text || ' receive ' || pg_last_wal_receive_lsn()::text || ' ' || pg_get_wal_replay_pause_state()", received)
		if err != nil {
			return false, err.Error()
		}
		return strings.HasPrefix(got, "true "), got + ", want receive " + received + " and paused"
	})
	// Cut b's replication off, not its daemon's view of a's server: no
	// conninfo, and the running receiver terminated (a paused standby does
	// not start a new one).
	pair.Exec(t, 1, "ALTER SYSTEM SET primary_conninfo = ''")
	pair.Exec(t, 1, "SELECT pg_reload_conf()")
	pid, err := strconv.Atoi(pair.Query(t, 1, "SELECT coalesce((SELECT pid FROM pg_stat_wal_receiver), 0)::text"))
	if err != nil || pid == 0 {
		t.Fatalf("b's WAL receiver pid: %d %v", pid, err)
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		t.Fatalf("terminate b's WAL receiver (pid %d): %v", pid, err)
	}
	testbed.WaitFor(t, wait, "b's WAL receiver to be gone", func() (bool, string) {
		s, err := pair.TryQuery(1, "SELECT coalesce((SELECT status || ' pid ' || pid FROM pg_stat_wal_receiver), 'none')")
		if err != nil {
			return false, err.Error()
		}
		return s == "none", s
	})
	bReceived := pair.Query(t, 1, "SELECT pg_last_wal_receive_lsn()::text")
	pair.Exec(t, 0, "INSERT INTO acked (v, pad) SELECT g, repeat('x', 500) FROM generate_series(101, 5100) g")
	lag := pair.Query(t, 0, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text", bReceived)
	if n, err := strconv.ParseInt(lag, 10, 64); err != nil || n <= 1<<20 {
		t.Fatalf("a is %s bytes of WAL ahead of what b received (%s), want more than max-lag-bytes 1048576", lag, bReceived)
	}
	if n := pair.Query(t, 1, "SELECT count(*)::text FROM acked"); n != "0" {
		t.Fatalf("the paused standby replayed %s rows before the crash, want 0", n)
	}
	if got := pair.Query(t, 1, "SELECT pg_last_wal_receive_lsn()::text"); got != bReceived {
		t.Fatalf("b received WAL up to %s after its receiver was cut off at %s", got, bReceived)
	}
	b.B.WaitHeartbeats("udp", 5, wait) // b's daemon polls a's WAL position meanwhile

	gate := crashAndRefuse(t, b, func() { pair.Kill(t, 0) })
	reasons := strings.Join(gate.Reasons, "; ")
	t.Logf("b's gate refused (lag %d bytes): %s", gate.LagBytes, reasons)
	for _, text := range []string{refusal(b.B), reasons} {
		if !strings.Contains(text, "bytes behind the last known primary position") || !strings.Contains(text, "above the limit max-lag-bytes 1048576") {
			t.Errorf("the refusal does not name the WAL b never received and the limit:\n%s", text)
		}
	}
	if want, _ := strconv.ParseInt(lag, 10, 64); gate.LagBytes < want {
		t.Errorf("gate lag %d bytes, want at least the %d bytes a wrote after b's receiver was cut off", gate.LagBytes, want)
	}
	// Refused for good, until --force.
	refusedUntilForced(t, b, func() (bool, string) {
		rec := pair.Query(t, 1, "SELECT pg_is_in_recovery()::text")
		return rec == "true", "pg_is_in_recovery=" + rec
	})
	if rec := pair.Query(t, 1, "SELECT pg_is_in_recovery()::text"); rec != "false" {
		t.Fatalf("b's server still in recovery after takeover --force: pg_is_in_recovery=%s", rec)
	}
	// Replay resumed before pg_promote: the 100 rows b had received are
	// there; the 5000 it never received are what --force accepted to lose.
	if n := pair.Query(t, 1, "SELECT count(*)::text FROM acked"); n != "100" {
		t.Errorf("rows on b after the forced promotion: %s, want 100 (received while paused, replayed at promotion; the 5000 never received are lost)", n)
	}
	pair.Exec(t, 1, "INSERT INTO acked (v) VALUES (0)") // writable
	// Group main stayed on b.
	if role, seen := b.B.Role("main"); role != "ACTIVE" {
		t.Fatalf("group main on b after takeover --force: %s, want ACTIVE", seen)
	}
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
}

// refusedUntilForced: b's gate has refused group db once. The lone node's
// retry (every 4 x deadtime) refuses again and never promotes (closed says
// whether b's server is still unpromoted, and what it saw); then `takeover
// --force` promotes past the gate, which the log and `status --json` say.
func refusedUntilForced(t *testing.T, b *netbed.Bed, closed func() (bool, string)) {
	t.Helper()
	if ok, seen := closed(); !ok {
		t.Fatalf("the refused server was promoted: %s", seen)
	}
	testbed.WaitFor(t, wait, "b to retry the promotion and be refused again", func() (bool, string) {
		g, _, _, seen := dbGroup(b.B, "db")
		if g.Role == "ACTIVE" {
			t.Fatalf("b promoted the lagging database without --force: %s", seen)
		}
		n := strings.Count(b.B.Log.String(), "replication gate refused the promotion")
		return n >= 2, fmt.Sprintf("%d refusals logged; %s", n, seen)
	})
	if ok, seen := closed(); !ok {
		t.Fatalf("the refused server was promoted on the retry: %s", seen)
	}
	if resp, err := b.B.Command("takeover", map[string]string{"force": "true"}); err != nil || !resp.OK {
		t.Fatalf("takeover --force on b: %v %+v", err, resp)
	}
	b.B.WaitRole("db", "ACTIVE", wait)
	if !b.B.Log.Contains("database replication gate is overridden") {
		t.Errorf("the forced promotion is not logged as such:\n%s", b.B.Log.Tail(20))
	}
	testbed.WaitFor(t, wait, "b's status to show the forced gate", func() (bool, string) {
		_, detail, gt, seen := dbGroup(b.B, "db")
		return strings.Contains(detail, "gate FORCED past:") && gt != nil && gt.Verdict == "forced", seen
	})
}

// crashAndRefuse is crashActive with a lagging replica on b: it waits for
// b's gate to refuse group db (STANDBY with its last start failed, the
// verdict "refused" in `status --json`, a refusal line in the log) and
// returns the gate's report.
func crashAndRefuse(t *testing.T, b *netbed.Bed, killDB func()) *daemon.GateReport {
	t.Helper()
	crashActive(t, b, killDB)
	var gate *daemon.GateReport
	testbed.WaitFor(t, wait, "b to refuse the promotion with the gate's reason", func() (bool, string) {
		g, _, gt, seen := dbGroup(b.B, "db")
		gate = gt
		return g.Role == "STANDBY" && g.Ineligible && strings.Contains(g.Waiting, "last start here failed") &&
			gt != nil && gt.Verdict == "refused" && refusal(b.B) != "", seen
	})
	return gate
}

// crashActive crashes a's host (links down, daemon kill -9, domains and
// DRBD gone), kills its database server with killDB, and checks that group
// main moves to b as after any crash.
func crashActive(t *testing.T, b *netbed.Bed, killDB func()) {
	t.Helper()
	b.CrashHost(b.A)
	killDB()
	b.B.WaitRole("main", "ACTIVE", wait)
	serviceOn(t, b, "b")
	expectOn(t, b, "web", "b")
}

// crashAndPromote is crashActive with a caught-up replica on b: the gate
// allows the promotion by itself (logged, without --force) and group db
// comes up on b.
func crashAndPromote(t *testing.T, b *netbed.Bed, killDB func()) {
	t.Helper()
	crashActive(t, b, killDB)
	b.B.WaitRole("db", "ACTIVE", wait)
	if !b.B.Log.Contains("replication gate allowed the promotion") || b.B.Log.Contains("database replication gate is overridden") {
		t.Errorf("want the gate's allowed promotion logged, without --force:\n%s", b.B.Log.Tail(20))
	}
}

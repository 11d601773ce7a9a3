package dbrepl_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"xhad/dbrepl"
	"xhad/dbrepl/dbtest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func probeM(t *testing.T, p *dbtest.MariaDBPair, i int) dbrepl.MariaDBFacts {
	t.Helper()
	f, err := dbrepl.ProbeMariaDB(ctxT(t, 10*time.Second), p.DSN(i, dbtest.MariaDBHA))
	if err != nil {
		t.Fatalf("probe node %d: %v", i, err)
	}
	return f
}

// appInsert inserts n rows as the application on node i and returns how many
// were acknowledged.
func appInsert(t *testing.T, p *dbtest.MariaDBPair, i int, table string, n int) {
	t.Helper()
	db, err := sql.Open("mysql", p.DSN(i, dbtest.MariaDBApp))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for k := 0; k < n; k++ {
		if _, err := db.Exec("INSERT INTO hatest."+table+" (v) VALUES (?)", k); err != nil {
			t.Fatalf("insert %d into %s on node %d: %v", k, table, i, err)
		}
	}
}

func count(t *testing.T, p *dbtest.MariaDBPair, i int, table string) int {
	t.Helper()
	n, err := strconv.Atoi(p.Query(t, i, "SELECT COUNT(*) FROM hatest."+table))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitIOConnecting(t *testing.T, p *dbtest.MariaDBPair, i int) {
	t.Helper()
	dbtest.WaitFor(t, fmt.Sprintf("node %d IO thread to notice the dead writer", i), 30*time.Second, func() (bool, string) {
		s := p.SlaveStatus(t, i)
		return s["Slave_IO_Running"] == "Connecting", fmt.Sprintf("IO=%s errno=%s", s["Slave_IO_Running"], s["Last_IO_Errno"])
	})
}

func waitReceived(t *testing.T, p *dbtest.MariaDBPair, i int, writerPos string) {
	t.Helper()
	want, err := dbrepl.ParseGTIDPos(writerPos)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.WaitFor(t, fmt.Sprintf("node %d to receive %s", i, writerPos), 30*time.Second, func() (bool, string) {
		io := p.SlaveStatus(t, i)["Gtid_IO_Pos"]
		got, err := dbrepl.ParseGTIDPos(io)
		if err != nil {
			return false, err.Error()
		}
		for d, g := range want {
			if got[d].Seq < g.Seq {
				return false, "Gtid_IO_Pos " + io
			}
		}
		return true, ""
	})
}

func has(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestMariaDB runs the gate and the promotion against a real master-master
// pair. Node 0 is the writer at the start of every case.
func TestMariaDB(t *testing.T) {
	p := dbtest.StartMariaDBPair(t)
	limits := dbrepl.Limits{MaxLagSeconds: 10 * time.Second, CatchupTimeout: 10 * time.Second, ConnectTimeout: time.Second}
	begin := func(t *testing.T, table string) {
		p.Reset(t)
		p.Exec(t, 0, "SET GLOBAL read_only = OFF")
		p.Exec(t, 0, "CREATE TABLE hatest."+table+" (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	}

	t.Run("healthy switchover", func(t *testing.T) {
		begin(t, "healthy")
		appInsert(t, p, 0, "healthy", 50)
		known := dbrepl.Known{WriterGTIDBinlogPos: probeM(t, p, 0).GTIDBinlogPos}
		d := dbrepl.Verdict(dbrepl.Facts{MariaDB: ptr(probeM(t, p, 1))}, limits, known)
		// The last rows may still be in flight: the promotion waits for them.
		rep, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), p.DSN(0, dbtest.MariaDBHA), limits, known, false)
		if err != nil {
			t.Fatalf("promote: %v (first verdict %s)", err, d)
		}
		if rep.Forced || rep.OldWriter != "read_only=ON set" {
			t.Fatalf("report: %+v", rep)
		}
		if got := count(t, p, 1, "healthy"); got != 50 {
			t.Fatalf("node 1 has %d of 50 acknowledged rows", got)
		}
		if p.Query(t, 1, "SELECT @@read_only") != "0" || p.Query(t, 0, "SELECT @@read_only") != "1" {
			t.Fatal("read_only not swapped")
		}
		appInsert(t, p, 1, "healthy", 1)
		db, _ := sql.Open("mysql", p.DSN(0, dbtest.MariaDBApp))
		defer db.Close()
		if _, err := db.Exec("INSERT INTO hatest.healthy (v) VALUES (1)"); err == nil || !strings.Contains(err.Error(), "1290") {
			t.Fatalf("write on the old writer: %v, want error 1290 (read-only)", err)
		}
	})

	t.Run("sql thread stopped with unapplied relay log", func(t *testing.T) {
		begin(t, "relay")
		p.WaitSynced(t)
		p.Exec(t, 1, "STOP SLAVE SQL_THREAD")
		appInsert(t, p, 0, "relay", 20)
		known := dbrepl.Known{WriterGTIDBinlogPos: probeM(t, p, 0).GTIDBinlogPos}
		waitReceived(t, p, 1, known.WriterGTIDBinlogPos)
		p.Kill(t, 0)
		waitIOConnecting(t, p, 1)
		d := dbrepl.Verdict(dbrepl.Facts{MariaDB: ptr(probeM(t, p, 1))}, limits, known)
		if d.Promotable || !has(d.Reasons, "SQL thread is not running") || !has(d.Reasons, "relay log not applied: read mysql-bin.") {
			t.Fatalf("verdict: %s", d)
		}
		_, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), p.DSN(0, dbtest.MariaDBHA), limits, known, false)
		if !errors.Is(err, dbrepl.ErrRefused) {
			t.Fatalf("promote: %v, want a refusal", err)
		}
		s := p.SlaveStatus(t, 1)
		if s["Slave_IO_Running"] != "Connecting" || p.Query(t, 1, "SELECT @@read_only") != "1" {
			t.Fatalf("a refused promotion changed the replica: IO=%s read_only=%s", s["Slave_IO_Running"], p.Query(t, 1, "SELECT @@read_only"))
		}
		// The operator's fix: start the SQL thread while the IO thread still runs.
		p.Exec(t, 1, "START SLAVE SQL_THREAD")
		rep, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), p.DSN(0, dbtest.MariaDBHA), limits, known, false)
		if err != nil {
			t.Fatalf("promote after catch-up: %v", err)
		}
		if !strings.HasPrefix(rep.OldWriter, "could not set read_only=ON") {
			t.Errorf("old writer is dead, report says %q", rep.OldWriter)
		}
		if got := count(t, p, 1, "relay"); got != 20 {
			t.Fatalf("node 1 has %d of 20 rows after promotion", got)
		}
	})

	t.Run("io thread broken", func(t *testing.T) {
		begin(t, "iobroken")
		p.Exec(t, 1, "STOP SLAVE")
		p.Exec(t, 1, "CHANGE MASTER TO MASTER_PASSWORD='wrong'")
		p.Exec(t, 1, "START SLAVE")
		dbtest.WaitFor(t, "an IO error on node 1", 30*time.Second, func() (bool, string) {
			s := p.SlaveStatus(t, 1)
			return s["Last_IO_Errno"] != "0", "IO=" + s["Slave_IO_Running"] + " errno=" + s["Last_IO_Errno"]
		})
		known := dbrepl.Known{WriterGTIDBinlogPos: probeM(t, p, 0).GTIDBinlogPos}
		d := dbrepl.Verdict(dbrepl.Facts{MariaDB: ptr(probeM(t, p, 1))}, limits, known)
		if d.Promotable || !has(d.Reasons, "IO thread failed with error 1045") {
			t.Fatalf("verdict: %s", d)
		}
		if _, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), "", limits, known, false); !errors.Is(err, dbrepl.ErrRefused) {
			t.Fatalf("promote: %v, want a refusal", err)
		}
	})

	t.Run("lag beyond the limit, then forced", func(t *testing.T) {
		begin(t, "lag")
		// A replica that applies each transaction an hour late.
		p.Exec(t, 1, "STOP SLAVE")
		p.Exec(t, 1, "CHANGE MASTER TO MASTER_DELAY=3600")
		p.Exec(t, 1, "START SLAVE")
		p.Exec(t, 0, "INSERT INTO hatest.lag (v) VALUES (0)")
		tight := limits
		tight.MaxLagSeconds, tight.CatchupTimeout = time.Second, 500*time.Millisecond
		dbtest.WaitFor(t, "node 1 to lag more than 1 s", 30*time.Second, func() (bool, string) {
			sbm := p.SlaveStatus(t, 1)["Seconds_Behind_Master"]
			n, err := strconv.Atoi(sbm)
			return err == nil && n >= 2, "Seconds_Behind_Master=" + sbm
		})
		known := dbrepl.Known{WriterGTIDBinlogPos: probeM(t, p, 0).GTIDBinlogPos}
		d := dbrepl.Verdict(dbrepl.Facts{MariaDB: ptr(probeM(t, p, 1))}, tight, known)
		if d.Promotable || !has(d.Reasons, "s behind master, above the limit max-lag-seconds 1s") || d.LagSeconds < 2 {
			t.Fatalf("verdict: %s (lag %d s)", d, d.LagSeconds)
		}
		if _, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), p.DSN(0, dbtest.MariaDBHA), tight, known, false); !errors.Is(err, dbrepl.ErrRefused) {
			t.Fatalf("promote: %v, want a refusal", err)
		}
		rep, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), p.DSN(0, dbtest.MariaDBHA), tight, known, true)
		if err != nil {
			t.Fatalf("forced promote: %v", err)
		}
		if !rep.Forced || !has(rep.Steps, "overridden by --force") || !has(rep.Steps, "behind master") {
			t.Fatalf("report does not say it was forced: %+v", rep)
		}
		if p.Query(t, 1, "SELECT @@read_only") != "0" {
			t.Fatal("forced promotion left read_only=ON")
		}
	})

	t.Run("old writer killed mid-write", func(t *testing.T) {
		begin(t, "midwrite")
		db, err := sql.Open("mysql", p.DSN(0, dbtest.MariaDBApp))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var mu sync.Mutex
		acked := 0
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.Exec("INSERT INTO hatest.midwrite (v) VALUES (1)"); err != nil {
					return
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		}()
		dbtest.WaitFor(t, "100 acknowledged writes", 30*time.Second, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return acked >= 100, fmt.Sprintf("%d acknowledged", acked)
		})
		// What the daemon polled last while the writer was alive.
		mu.Lock()
		ackedAtProbe := acked
		mu.Unlock()
		known := dbrepl.Known{WriterGTIDBinlogPos: probeM(t, p, 0).GTIDBinlogPos}
		// The daemon's last poll is a little older than the crash: the
		// replica has received what the poll saw while writes go on.
		want, err := dbrepl.ParseGTIDPos(known.WriterGTIDBinlogPos)
		if err != nil {
			t.Fatal(err)
		}
		dbtest.WaitFor(t, "the replica to receive the polled position", 30*time.Second, func() (bool, string) {
			f := probeM(t, p, 1)
			if f.Replica == nil {
				return false, "no replica status"
			}
			got, err := dbrepl.ParseGTIDPos(f.Replica.GTIDIOPos)
			if err != nil {
				return false, err.Error()
			}
			return got[1].Seq >= want[1].Seq, fmt.Sprintf("received %s, polled %s", f.Replica.GTIDIOPos, known.WriterGTIDBinlogPos)
		})
		p.Kill(t, 0)
		close(stop)
		<-done
		waitIOConnecting(t, p, 1)
		rep, err := dbrepl.PromoteMariaDB(ctxT(t, 30*time.Second), p.DSN(1, dbtest.MariaDBHA), p.DSN(0, dbtest.MariaDBHA), limits, known, false)
		if err != nil {
			t.Fatalf("promote: %v", err)
		}
		got := count(t, p, 1, "midwrite")
		t.Logf("acknowledged %d, at the probe %d, on the new writer %d; %s", acked, ackedAtProbe, got, rep.Decision)
		if got < ackedAtProbe || got > acked+1 {
			t.Fatalf("new writer has %d rows; the old writer had acknowledged %d when last probed and %d in all", got, ackedAtProbe, acked)
		}
		// The old writer comes back read-only, its replication not started,
		// and its errant transactions are exactly the rows the new writer lacks.
		p.Start(t, 0)
		if ro, io := p.Query(t, 0, "SELECT @@read_only"), p.SlaveStatus(t, 0)["Slave_IO_Running"]; ro != "1" || io != "No" {
			t.Fatalf("restarted old writer: read_only=%s Slave_IO_Running=%s, want 1 and No", ro, io)
		}
		errant, msg, err := dbrepl.ErrantTransactions(probeM(t, p, 0).GTIDBinlogPos, rep.GTIDSlavePos)
		if err != nil {
			t.Fatal(err)
		}
		onOld := count(t, p, 0, "midwrite")
		t.Logf("old writer has %d rows: %s", onOld, msg)
		if int64(onOld-got) != errant {
			t.Fatalf("old writer has %d rows, new writer %d, but %d errant transaction(s) reported: %s", onOld, got, errant, msg)
		}

		// A writer position this node never received must be refused.
		f := probeM(t, p, 1)
		pos, _ := dbrepl.ParseGTIDPos(f.GTIDCurrentPos)
		g := pos[1]
		g.Seq += 7
		pos[1] = g
		d := dbrepl.Verdict(dbrepl.Facts{MariaDB: &f}, limits, dbrepl.Known{WriterGTIDBinlogPos: pos.String()})
		if d.Promotable || d.LagTrx != 7 {
			t.Fatalf("verdict with 7 lost transactions: %s (lag %d)", d, d.LagTrx)
		}
	})
}

func ptr[T any](v T) *T { return &v }

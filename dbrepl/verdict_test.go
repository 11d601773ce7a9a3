package dbrepl

import (
	"strings"
	"testing"
	"time"
)

func i64(n int64) *int64 { return &n }

// healthyMariaDB is node 2 of a master-master pair (domains 1 and 2) that has
// applied everything node 1 wrote; node 1 just died.
func healthyMariaDB() *MariaDBFacts {
	return &MariaDBFacts{
		ServerID: 2, GTIDDomainID: 2, ReadOnly: true,
		GTIDBinlogPos: "1-1-20,2-2-5", GTIDSlavePos: "1-1-20,2-2-5", GTIDCurrentPos: "1-1-20,2-2-5",
		Replica: &ReplicaStatus{
			IORunning: "Connecting", SQLRunning: "Yes", MasterHost: "10.0.1.11", MasterPort: 3306,
			MasterLogFile: "mysql-bin.000003", ReadMasterLogPos: 5176,
			RelayMasterLogFile: "mysql-bin.000003", ExecMasterLogPos: 5176,
			GTIDIOPos: "1-1-20,2-2-5", LastIOErrno: 2003, LastIOError: "error reconnecting to master",
		},
	}
}

func TestVerdictMariaDB(t *testing.T) {
	limits := Limits{MaxLagSeconds: 10 * time.Second, MaxLagTrx: 0}
	known := Known{WriterGTIDBinlogPos: "1-1-20,2-2-5"}
	cases := []struct {
		name      string
		mutate    func(f *MariaDBFacts, l *Limits, k *Known)
		ok        bool
		want      []string // substrings of Reasons (refused) or Notes (promotable)
		lagTrx    int64
		lagSecond int64
	}{
		{"healthy, writer dead", func(*MariaDBFacts, *Limits, *Known) {}, true,
			[]string{"IO thread Connecting with error 2003", "0 transaction(s) of the old writer missing"}, 0, -1},
		{"healthy, writer alive (switchover)", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.IORunning, f.Replica.LastIOErrno, f.Replica.SecondsBehindMaster = "Yes", 0, i64(0)
		}, true, []string{"the old writer is alive"}, 0, 0},
		{"relay log not applied", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.ExecMasterLogPos = 2212
		}, false, []string{"relay log not applied: read mysql-bin.000003:5176, executed mysql-bin.000003:2212"}, 0, -1},
		{"relay log across a rotation", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.RelayMasterLogFile, f.Replica.ExecMasterLogPos = "mysql-bin.000002", 9000
		}, false, []string{"read mysql-bin.000003:5176, executed mysql-bin.000002:9000"}, 0, -1},
		{"gtid received not applied", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.GTIDIOPos = "1-1-21,2-2-5"
		}, false, []string{"Gtid_IO_Pos has 1-1-21, applied only 1-1-20"}, 0, -1},
		{"sql thread stopped", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.SQLRunning = "No"
		}, false, []string{"SQL thread is not running (Slave_SQL_Running=No)", "START SLAVE SQL_THREAD"}, 0, -1},
		{"sql error", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.SQLRunning, f.Replica.LastSQLErrno, f.Replica.LastSQLError = "No", 1062, "Duplicate entry '1' for key 'PRIMARY'"
		}, false, []string{"SQL thread failed with error 1062: Duplicate entry"}, 0, -1},
		{"io thread broken by an error", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.IORunning, f.Replica.LastIOErrno, f.Replica.LastIOError = "No", 1045, "Access denied for user 'repl'"
		}, false, []string{"IO thread failed with error 1045: Access denied"}, 0, -1},
		{"io thread stopped by hand", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.IORunning, f.Replica.LastIOErrno, f.Replica.LastIOError = "No", 0, ""
		}, false, []string{"IO thread is stopped (Slave_IO_Running=No) without an error"}, 0, -1},
		{"lag above limit", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.IORunning, f.Replica.LastIOErrno, f.Replica.SecondsBehindMaster = "Yes", 0, i64(42)
		}, false, []string{"42 s behind master, above the limit max-lag-seconds 10s"}, 0, 42},
		{"lag at limit", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.SecondsBehindMaster = i64(10)
		}, true, nil, 0, 10},
		{"delayed replica", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.SQLDelay = 3600
		}, false, []string{"delayed replica (SQL_Delay=3600 s)"}, 0, -1},
		{"writer transactions never arrived", func(_ *MariaDBFacts, _ *Limits, k *Known) {
			k.WriterGTIDBinlogPos = "1-1-23,2-2-5"
		}, false, []string{"3 transaction(s) of the old writer never arrived here (the old writer had 1-1-23, this node has 1-1-20)"}, 3, -1},
		{"missing within max-lag-transactions", func(_ *MariaDBFacts, l *Limits, k *Known) {
			k.WriterGTIDBinlogPos, l.MaxLagTrx = "1-1-23,2-2-5", 5
		}, true, []string{"3 transaction(s) of the old writer missing here (limit 5)"}, 3, -1},
		{"received but unapplied counts as present", func(f *MariaDBFacts, _ *Limits, k *Known) {
			f.Replica.GTIDIOPos, k.WriterGTIDBinlogPos = "1-1-23,2-2-5", "1-1-23,2-2-5"
		}, false, []string{"Gtid_IO_Pos has 1-1-23, applied only 1-1-20"}, 0, -1},
		{"known empty", func(_ *MariaDBFacts, _ *Limits, k *Known) {
			k.WriterGTIDBinlogPos = ""
		}, true, []string{"could not check for lost transactions: the old writer's gtid_binlog_pos was never seen"}, -1, -1},
		{"not a replica, read only", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica = nil
		}, false, []string{"not a replica (SHOW SLAVE STATUS is empty)"}, 0, -1},
		{"already writer", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica, f.ReadOnly = nil, false
		}, true, []string{"already writable"}, 0, -1},
		{"garbage gtid", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.GTIDSlavePos = "1-x-3"
		}, false, []string{"GTID variables are unreadable"}, -1, -1},
		{"several vetoes at once", func(f *MariaDBFacts, _ *Limits, _ *Known) {
			f.Replica.SQLRunning, f.Replica.ExecMasterLogPos = "No", 2212
		}, false, []string{"SQL thread is not running", "relay log not applied"}, 0, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, l, k := healthyMariaDB(), limits, known
			tc.mutate(f, &l, &k)
			d := Verdict(Facts{MariaDB: f}, l, k)
			checkDecision(t, d, tc.ok, tc.want)
			if d.LagTrx != tc.lagTrx || d.LagSeconds != tc.lagSecond {
				t.Errorf("lag trx %d seconds %d, want %d %d", d.LagTrx, d.LagSeconds, tc.lagTrx, tc.lagSecond)
			}
		})
	}
}

func checkDecision(t *testing.T, d Decision, ok bool, want []string) {
	t.Helper()
	if d.Promotable != ok {
		t.Fatalf("promotable = %v, want %v: %s", d.Promotable, ok, d)
	}
	if d.Promotable != (len(d.Reasons) == 0) {
		t.Fatalf("promotable %v with reasons %q", d.Promotable, d.Reasons)
	}
	text := strings.Join(append(append([]string{}, d.Reasons...), d.Notes...), "\n")
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in:\n%s", w, text)
		}
	}
}

func healthyPG() *PGFacts {
	return &PGFacts{
		InRecovery: true, ReceiveLSN: 0x3000148, ReplayLSN: 0x3000148, PauseState: "not paused", Timeline: 1,
	}
}

func TestVerdictPostgres(t *testing.T) {
	limits := Limits{MaxLagBytes: 1 << 20}
	known := Known{PrimaryLSN: 0x3000148, PrimaryTimeline: 1}
	cases := []struct {
		name     string
		mutate   func(f *PGFacts, l *Limits, k *Known)
		ok       bool
		want     []string
		lagBytes int64
	}{
		{"caught up, primary gone", func(*PGFacts, *Limits, *Known) {}, true,
			[]string{"no WAL receiver", "0 bytes behind the last known primary position 0/3000148"}, 0},
		{"streaming", func(f *PGFacts, _ *Limits, _ *Known) {
			f.Receiver = &WALReceiver{Status: "streaming", ReceivedTLI: 1, SenderHost: "10.0.1.11", SenderPort: 5432}
		}, true, []string{"streaming from 10.0.1.11:5432"}, 0},
		{"behind beyond limit", func(f *PGFacts, _ *Limits, _ *Known) {
			f.ReceiveLSN, f.ReplayLSN = 0x2000000, 0x2000000
		}, false, []string{"16777544 bytes behind the last known primary position 0/3000148 (this standby has 0/2000000), above the limit max-lag-bytes 1048576"}, 0x1000148},
		{"behind within limit", func(f *PGFacts, _ *Limits, _ *Known) {
			f.ReceiveLSN, f.ReplayLSN = 0x3000000, 0x3000000
		}, true, []string{"328 bytes behind"}, 328},
		{"received but not replayed counts (replay paused)", func(f *PGFacts, _ *Limits, _ *Known) {
			f.ReplayLSN, f.PauseState = 0x2F00000, "paused"
		}, true, []string{"WAL replay is paused with 1048904 bytes received but not replayed"}, 0},
		{"other timeline", func(f *PGFacts, _ *Limits, _ *Known) {
			f.Timeline = 2
		}, false, []string{"timeline 2 but the last known primary was on timeline 1"}, 0},
		{"timeline unknown here", func(f *PGFacts, _ *Limits, _ *Known) {
			f.Timeline = 0
		}, false, []string{"could not read this standby's timeline"}, 0},
		{"nothing known", func(_ *PGFacts, _ *Limits, k *Known) {
			*k = Known{}
		}, true, []string{"could not check the timeline", "could not check data loss"}, -1},
		{"default limit", func(f *PGFacts, l *Limits, _ *Known) {
			l.MaxLagBytes, f.ReceiveLSN, f.ReplayLSN = 0, 0x2F00000, 0x2F00000
		}, false, []string{"max-lag-bytes 1048576"}, 0x100148},
		{"already primary", func(f *PGFacts, _ *Limits, _ *Known) {
			f.InRecovery, f.CurrentLSN = false, 0x3000200
		}, true, []string{"already a primary"}, -1},
		{"stale old primary", func(f *PGFacts, _ *Limits, k *Known) {
			f.InRecovery, k.PrimaryTimeline = false, 2
		}, false, []string{"stale old primary"}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, l, k := healthyPG(), limits, known
			tc.mutate(f, &l, &k)
			d := Verdict(Facts{Postgres: f}, l, k)
			checkDecision(t, d, tc.ok, tc.want)
			if d.LagBytes != tc.lagBytes {
				t.Errorf("lag bytes %d, want %d", d.LagBytes, tc.lagBytes)
			}
		})
	}
}

func TestVerdictNoFacts(t *testing.T) {
	d := Verdict(Facts{}, Limits{}, Known{})
	checkDecision(t, d, false, []string{"could not be probed"})
}

func TestParseLSN(t *testing.T) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLSN(%q) = %v, %v", s, l, err)
		}
	}
	for _, s := range []string{"", "16", "x/1", "1/100000000"} {
		if _, err := ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q): no error", s)
		}
	}
}

func TestParseGTIDPos(t *testing.T) {
	p, err := ParseGTIDPos(" 2-2-5, 1-1-20 ")
	if err != nil || p.String() != "1-1-20,2-2-5" {
		t.Fatalf("got %v %v", p, err)
	}
	if p, err := ParseGTIDPos(""); err != nil || len(p) != 0 {
		t.Fatalf("empty: %v %v", p, err)
	}
	for _, s := range []string{"1-1", "a-1-1", "1-1-1-1"} {
		if _, err := ParseGTIDPos(s); err == nil {
			t.Errorf("ParseGTIDPos(%q): no error", s)
		}
	}
	m := newest(GTIDPos{1: {1, 1, 5}}, GTIDPos{1: {1, 2, 7}, 2: {2, 2, 1}})
	if m.String() != "1-2-7,2-2-1" {
		t.Fatalf("newest = %s", m)
	}
}

func TestErrantTransactions(t *testing.T) {
	cases := []struct {
		old, promotedAt string
		n               int64
		has             string
	}{
		{"1-1-20,2-2-5", "1-1-20,2-2-5", 0, "no errant transactions"},
		{"1-1-20,2-2-5", "1-1-20,2-2-9", 0, "no errant"},
		{"1-1-23,2-2-5", "1-1-20,2-2-5", 3, "3 errant transaction(s) on the old writer (old writer has 1-1-23, the new writer took over at 1-1-20)"},
		{"1-1-2,3-1-4", "1-1-2", 4, "took over at nothing of domain 3"},
	}
	for _, tc := range cases {
		n, msg, err := ErrantTransactions(tc.old, tc.promotedAt)
		if err != nil || n != tc.n || !strings.Contains(msg, tc.has) {
			t.Errorf("ErrantTransactions(%q, %q) = %d, %q, %v; want %d and %q", tc.old, tc.promotedAt, n, msg, err, tc.n, tc.has)
		}
	}
	if _, _, err := ErrantTransactions("1-1", ""); err == nil {
		t.Error("garbage: no error")
	}
}

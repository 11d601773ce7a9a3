package dbrepl

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// MariaDB client error numbers that mean "the master is not there" rather
// than "replication is broken": can't connect, lost connection, gone away.
var masterGoneErrnos = map[int]bool{2002: true, 2003: true, 2005: true, 2006: true, 2013: true}

// Verdict decides whether the candidate described by f may be promoted. It is
// pure: no I/O, no clock. Every veto in Decision.Reasons is a sentence naming
// what is wrong and what to do; Notes record what was checked and what could
// not be.
func Verdict(f Facts, l Limits, last Known) Decision {
	d := Decision{LagBytes: -1, LagSeconds: -1, LagTrx: -1}
	switch {
	case f.MariaDB != nil:
		verdictMariaDB(&d, f.MariaDB, l, last)
	case f.Postgres != nil:
		verdictPostgres(&d, f.Postgres, l, last)
	default:
		d.Reasons = append(d.Reasons, "no facts about the candidate database: it could not be probed")
	}
	d.Promotable = len(d.Reasons) == 0
	return d
}

func (d *Decision) veto(format string, a ...any) {
	d.Reasons = append(d.Reasons, fmt.Sprintf(format, a...))
}

func (d *Decision) note(format string, a ...any) {
	d.Notes = append(d.Notes, fmt.Sprintf(format, a...))
}

func verdictMariaDB(d *Decision, m *MariaDBFacts, l Limits, last Known) {
	maxLag := l.MaxLagSeconds
	if maxLag <= 0 {
		maxLag = DefaultMaxLagDelay
	}
	binlog, err1 := ParseGTIDPos(m.GTIDBinlogPos)
	current, err2 := ParseGTIDPos(m.GTIDCurrentPos)
	slave, err3 := ParseGTIDPos(m.GTIDSlavePos)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			d.veto("this server's GTID variables are unreadable: %v", err)
			return
		}
	}
	applied := newest(binlog, current, slave)
	r := m.Replica
	if r == nil {
		if !m.ReadOnly {
			d.note("already writable (read_only=OFF) and not a replica: nothing to promote")
		} else {
			d.veto("this server is not a replica (SHOW SLAVE STATUS is empty), so it cannot have the old writer's data; configure CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos, or use --force")
		}
		checkLostTrx(d, applied, l, last)
		return
	}
	if !m.ReadOnly {
		d.note("read_only is already OFF here")
	}
	if r.SQLDelay > 0 {
		d.veto("this is a delayed replica (SQL_Delay=%d s): it is behind on purpose; remove MASTER_DELAY or promote another node", r.SQLDelay)
	}
	if r.LastSQLErrno != 0 {
		d.veto("replication SQL thread failed with error %d: %s; fix the cause and START SLAVE SQL_THREAD, or use --force", r.LastSQLErrno, r.LastSQLError)
	} else if r.SQLRunning != "Yes" {
		d.veto("replication SQL thread is not running (Slave_SQL_Running=%s), so received transactions may be unapplied; run START SLAVE SQL_THREAD while the IO thread still runs and retry, or use --force", orNone(r.SQLRunning))
	}
	switch {
	case r.LastIOErrno != 0 && !masterGoneErrnos[r.LastIOErrno]:
		d.veto("replication IO thread failed with error %d: %s; this node stopped receiving before the old writer vanished; fix replication (credentials, purged binlogs) or use --force", r.LastIOErrno, r.LastIOError)
	case r.IORunning == "No" && r.LastIOErrno == 0:
		d.veto("replication IO thread is stopped (Slave_IO_Running=No) without an error: someone ran STOP SLAVE, so this node may miss the old writer's last transactions; START SLAVE, let it catch up, or use --force")
	case r.IORunning == "Yes":
		d.note("the IO thread is still connected to %s:%d: the old writer is alive (a planned switchover)", r.MasterHost, r.MasterPort)
	case r.LastIOErrno != 0:
		d.note("IO thread %s with error %d (the old writer is unreachable)", orNone(r.IORunning), r.LastIOErrno)
	}
	if r.MasterLogFile != r.RelayMasterLogFile || r.ReadMasterLogPos != r.ExecMasterLogPos {
		d.veto("relay log not applied: read %s:%d, executed %s:%d; wait for the SQL thread to catch up (never STOP SLAVE before), or use --force",
			r.MasterLogFile, r.ReadMasterLogPos, r.RelayMasterLogFile, r.ExecMasterLogPos)
	}
	if received, err := ParseGTIDPos(r.GTIDIOPos); err != nil {
		d.veto("Gtid_IO_Pos is unreadable: %v", err)
	} else {
		for dom, g := range received {
			if a, ok := applied[dom]; !ok || a.Seq < g.Seq {
				d.veto("received transactions not applied: Gtid_IO_Pos has %s, applied only %s; wait for the SQL thread, or use --force", g, gtidOrNone(applied, dom))
			}
		}
		applied = newest(applied, received)
	}
	if r.SecondsBehindMaster != nil {
		d.LagSeconds = *r.SecondsBehindMaster
		if time.Duration(*r.SecondsBehindMaster)*time.Second > maxLag {
			d.veto("%d s behind master, above the limit max-lag-seconds %s; wait for it to catch up, or use --force", *r.SecondsBehindMaster, maxLag)
		}
	} else {
		d.note("Seconds_Behind_Master is NULL (a replication thread is not connected); lag judged from relay log positions and GTIDs")
	}
	checkLostTrx(d, applied, l, last)
}

// checkLostTrx compares what this node has with what the old writer had.
func checkLostTrx(d *Decision, have GTIDPos, l Limits, last Known) {
	if last.WriterGTIDBinlogPos == "" {
		d.note("could not check for lost transactions: the old writer's gtid_binlog_pos was never seen")
		return
	}
	writer, err := ParseGTIDPos(last.WriterGTIDBinlogPos)
	if err != nil {
		d.note("could not check for lost transactions: %v", err)
		return
	}
	var missing int64
	var worst string
	for dom, w := range writer {
		h := have[dom]
		if w.Seq > h.Seq {
			missing += int64(w.Seq - h.Seq)
			worst = fmt.Sprintf("the old writer had %s, this node has %s", w, gtidOrNone(have, dom))
		}
	}
	d.LagTrx = missing
	if missing > l.MaxLagTrx {
		d.veto("%d transaction(s) of the old writer never arrived here (%s), above the limit max-lag-transactions %d; bring the old writer back, or use --force and accept the loss", missing, worst, l.MaxLagTrx)
	} else {
		d.note("%d transaction(s) of the old writer missing here (limit %d)", missing, l.MaxLagTrx)
	}
}

func verdictPostgres(d *Decision, p *PGFacts, l Limits, last Known) {
	maxLag := l.MaxLagBytes
	if maxLag <= 0 {
		maxLag = DefaultMaxLagBytes
	}
	if !p.InRecovery {
		d.note("already a primary (not in recovery): nothing to promote")
		if last.PrimaryTimeline != 0 && p.Timeline != 0 && p.Timeline < last.PrimaryTimeline {
			d.veto("this server is a primary on timeline %d, older than the last known primary's timeline %d: it is a stale old primary; rejoin it as a standby (pg_rewind) instead", p.Timeline, last.PrimaryTimeline)
		}
		return
	}
	switch {
	case p.Receiver == nil:
		d.note("no WAL receiver (the primary is unreachable)")
	case p.Receiver.Status == "streaming":
		d.note("the WAL receiver is streaming from %s:%d: the old primary is alive (a planned switchover)", p.Receiver.SenderHost, p.Receiver.SenderPort)
	default:
		d.note("WAL receiver status %q", p.Receiver.Status)
	}
	if p.PauseState != "" && p.PauseState != "not paused" {
		d.note("WAL replay is %s with %d bytes received but not replayed; promotion resumes replay and applies them", p.PauseState, lsnDiff(p.ReceiveLSN, p.ReplayLSN))
	}
	has := max(p.ReceiveLSN, p.ReplayLSN)
	switch {
	case last.PrimaryTimeline == 0:
		d.note("could not check the timeline: the old primary's timeline was never seen")
	case p.Timeline == 0:
		d.veto("could not read this standby's timeline; check pg_stat_wal_receiver and pg_control_checkpoint(), or use --force")
	case p.Timeline != last.PrimaryTimeline:
		d.veto("this standby is on timeline %d but the last known primary was on timeline %d: it follows another history; rebuild or pg_rewind it from the current primary, or use --force", p.Timeline, last.PrimaryTimeline)
	}
	if last.PrimaryLSN == 0 {
		d.note("could not check data loss: the old primary's WAL position was never seen (this standby has %s)", has)
		return
	}
	d.LagBytes = lsnDiff(last.PrimaryLSN, has)
	if d.LagBytes > maxLag {
		d.veto("%d bytes behind the last known primary position %s (this standby has %s), above the limit max-lag-bytes %d; bring the old primary back, or use --force and accept the loss", d.LagBytes, last.PrimaryLSN, has, maxLag)
	} else {
		d.note("%d bytes behind the last known primary position %s (limit %d)", d.LagBytes, last.PrimaryLSN, maxLag)
	}
}

// lsnDiff is a-b, at least 0.
func lsnDiff(a, b LSN) int64 {
	if a <= b {
		return 0
	}
	return int64(a - b)
}

func orNone(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

func gtidOrNone(p GTIDPos, dom uint32) string {
	if g, ok := p[dom]; ok {
		return g.String()
	}
	return fmt.Sprintf("nothing of domain %d", dom)
}

// ErrantTransactions checks a returning old MariaDB writer before it may
// replicate again: oldWriterBinlogPos is its @@gtid_binlog_pos now,
// promotedAt the new writer's @@gtid_slave_pos when it opened
// (Report.GTIDSlavePos). Transactions of the old writer beyond promotedAt
// never reached the new writer; letting replication resume would mix them in
// silently. It returns their number (0 = START SLAVE on the old writer is
// safe) and a sentence naming them.
func ErrantTransactions(oldWriterBinlogPos, promotedAt string) (int64, string, error) {
	old, err := ParseGTIDPos(oldWriterBinlogPos)
	if err != nil {
		return 0, "", fmt.Errorf("check errant transactions: old writer: %w", err)
	}
	p, err := ParseGTIDPos(promotedAt)
	if err != nil {
		return 0, "", fmt.Errorf("check errant transactions: promotion position: %w", err)
	}
	var n int64
	var parts []string
	for dom, g := range old {
		if g.Seq > p[dom].Seq {
			n += int64(g.Seq - p[dom].Seq)
			parts = append(parts, fmt.Sprintf("old writer has %s, the new writer took over at %s", g, gtidOrNone(p, dom)))
		}
	}
	if n == 0 {
		return 0, "no errant transactions: the old writer may follow the new one (START SLAVE)", nil
	}
	sort.Strings(parts)
	return n, fmt.Sprintf("%d errant transaction(s) on the old writer (%s): do not start replication; rebuild it from the new writer or reconcile by hand", n, strings.Join(parts, "; ")), nil
}

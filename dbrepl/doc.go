// Package dbrepl is the database replication gate: it reads a replica's real
// state, decides whether it may be promoted, and promotes or demotes it.
//
// The package has three layers:
//
//   - Facts (I/O): ProbeMariaDB and ProbePostgres read SHOW SLAVE STATUS
//     (columns mapped by name) and the GTID variables, or the recovery
//     functions and pg_stat_wal_receiver. Every call is bounded by its context
//     and a short connection timeout.
//   - Verdict (pure): Verdict(facts, limits, known) returns a Decision whose
//     every veto is a sentence a sysadmin understands. Known is what the
//     daemon last saw of the old primary while it was alive (MariaDB: its
//     gtid_binlog_pos; PostgreSQL: its LSN and timeline); when it is empty the
//     Decision says what could not be checked.
//   - Actions: PromoteMariaDB waits (at most catchup-timeout) until everything
//     received is applied, without ever stopping the IO thread before (with
//     MASTER_USE_GTID a restart of both threads discards the relay log), then
//     runs STOP SLAVE, read_only=OFF here and, best effort, read_only=ON on the
//     old writer. PromotePostgres resumes a paused replay, runs
//     pg_promote(true, timeout) and checks the server left recovery. With
//     force the gate's vetoes are overridden and the Report says so.
//
// Demotion. MariaDB: DemoteMariaDB sets read_only=ON (both servers must also
// have read_only=ON and skip_slave_start in their configuration, so a
// restarted old writer never comes back writable nor replicating). Before
// its replication is started again, ErrantTransactions compares its
// gtid_binlog_pos with the position the new writer opened at
// (Report.GTIDSlavePos): transactions beyond it never reached the new writer
// and would be mixed in silently, so it must be rebuilt instead. PostgreSQL cannot be
// demoted in place: a primary whose standby was promoted has diverged (new
// timeline) and must never start as a primary again. Rejoin is the safe path
// an operator (or the daemon, on the node that lost) runs with the old
// primary stopped: it refuses while the server runs, runs pg_rewind against
// the new primary (after a crash pg_rewind first runs crash recovery itself;
// it needs data checksums or wal_log_hints=on, and wal_keep_size large
// enough, in the configuration file: that crash recovery does not see -c
// options of the command line), removes the primary_slot_name that
// pg_rewind copied from the source, writes primary_conninfo and creates
// standby.signal. When pg_rewind fails, Rejoin still creates standby.signal,
// so the server can only start read-only in recovery, and says that it must
// be re-cloned with pg_basebackup -R. Guard alone (standby.signal only) is
// the minimum to run before the old primary can be restarted at all.
//
// Credentials come from a file (LoadCredentials) that must not be readable
// by group or others.
package dbrepl

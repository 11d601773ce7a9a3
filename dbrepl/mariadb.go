package dbrepl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrRefused is wrapped by the error of a promotion the gate refused.
var ErrRefused = errors.New("promotion refused by the replication gate")

// Report says what a promotion did.
type Report struct {
	Decision Decision // the gate's verdict (after the catch-up wait)
	Forced   bool     // the verdict refused and force overrode it
	Steps    []string // what was done, in order
	// OldWriter: MariaDB's best-effort read_only=ON on the old writer
	// ("read_only=ON set" or why not).
	OldWriter string
	// Position when the node opened: MariaDB @@gtid_slave_pos (P of the
	// reference), PostgreSQL the new timeline and LSN.
	GTIDSlavePos string
	Timeline     uint32
	LSN          LSN
}

func (r *Report) step(format string, a ...any) { r.Steps = append(r.Steps, fmt.Sprintf(format, a...)) }

// MariaDBDSN builds a go-sql-driver DSN for host:port.
func MariaDBDSN(addr, database, user, password string, connectTimeout time.Duration) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", addr, database
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	cfg.Timeout = connectTimeout
	return cfg.FormatDSN()
}

func openMariaDB(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mariadb dsn: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultConnectTimeout
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mariadb %s: %w", cfg.Addr, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to mariadb %s as %s: %w", cfg.Addr, cfg.User, err)
	}
	return db, nil
}

// ProbeMariaDB reads the replication facts of one MariaDB server.
func ProbeMariaDB(ctx context.Context, dsn string) (MariaDBFacts, error) {
	db, err := openMariaDB(ctx, dsn)
	if err != nil {
		return MariaDBFacts{}, err
	}
	defer db.Close()
	return probeMariaDB(ctx, db)
}

func probeMariaDB(ctx context.Context, db *sql.DB) (MariaDBFacts, error) {
	var f MariaDBFacts
	var ro int
	err := db.QueryRowContext(ctx, "SELECT @@server_id, @@gtid_domain_id, @@read_only, @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_current_pos").
		Scan(&f.ServerID, &f.GTIDDomainID, &ro, &f.GTIDBinlogPos, &f.GTIDSlavePos, &f.GTIDCurrentPos)
	if err != nil {
		return f, fmt.Errorf("read mariadb gtid variables: %w", err)
	}
	f.ReadOnly = ro != 0
	row, err := queryOneRowByName(ctx, db, "SHOW SLAVE STATUS")
	if err != nil {
		return f, fmt.Errorf("read mariadb SHOW SLAVE STATUS (the account needs REPLICA MONITOR or SUPER): %w", err)
	}
	if row != nil {
		f.Replica = replicaFromRow(row)
	}
	return f, nil
}

// queryOneRowByName returns the first row as column name -> value (nil value
// for NULL), or nil when there is no row.
func queryOneRowByName(ctx context.Context, db *sql.DB, q string) (map[string]*string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make(map[string]*string, len(cols))
	for i, c := range cols {
		if vals[i].Valid {
			s := vals[i].String
			out[strings.ToLower(c)] = &s
		} else {
			out[strings.ToLower(c)] = nil
		}
	}
	return out, rows.Err()
}

// replicaFromRow maps SHOW SLAVE STATUS or SHOW REPLICA STATUS columns.
func replicaFromRow(row map[string]*string) *ReplicaStatus {
	str := func(names ...string) string {
		for _, n := range names {
			if v, ok := row[strings.ToLower(n)]; ok && v != nil {
				return *v
			}
		}
		return ""
	}
	num := func(names ...string) int64 {
		n, _ := strconv.ParseInt(str(names...), 10, 64)
		return n
	}
	r := &ReplicaStatus{
		IORunning:          str("Slave_IO_Running", "Replica_IO_Running"),
		SQLRunning:         str("Slave_SQL_Running", "Replica_SQL_Running"),
		SQLRunningState:    str("Slave_SQL_Running_State", "Replica_SQL_Running_State"),
		MasterHost:         str("Master_Host", "Source_Host"),
		MasterPort:         int(num("Master_Port", "Source_Port")),
		MasterServerID:     uint32(num("Master_Server_Id", "Source_Server_Id")),
		MasterLogFile:      str("Master_Log_File", "Source_Log_File"),
		ReadMasterLogPos:   uint64(num("Read_Master_Log_Pos", "Read_Source_Log_Pos")),
		RelayMasterLogFile: str("Relay_Master_Log_File", "Relay_Source_Log_File"),
		ExecMasterLogPos:   uint64(num("Exec_Master_Log_Pos", "Exec_Source_Log_Pos")),
		GTIDIOPos:          str("Gtid_IO_Pos"),
		LastIOErrno:        int(num("Last_IO_Errno")),
		LastIOError:        str("Last_IO_Error"),
		LastSQLErrno:       int(num("Last_SQL_Errno")),
		LastSQLError:       str("Last_SQL_Error"),
		SQLDelay:           num("SQL_Delay"),
	}
	for _, n := range []string{"seconds_behind_master", "seconds_behind_source"} {
		if v, ok := row[n]; ok && v != nil {
			s, err := strconv.ParseInt(*v, 10, 64)
			if err == nil {
				r.SecondsBehindMaster = &s
			}
			break
		}
	}
	return r
}

// PromoteMariaDB makes the local server the writer. It waits at most
// l.CatchupTimeout until everything received is applied (the IO thread is
// never stopped before), takes the verdict, and unless refused (or forced)
// runs STOP SLAVE and SET GLOBAL read_only=OFF; then, best effort, it sets
// read_only=ON on remote (empty remote: skipped). A refusal returns the
// Report and an error wrapping ErrRefused.
func PromoteMariaDB(ctx context.Context, local, remote string, l Limits, last Known, force bool) (Report, error) {
	var rep Report
	db, err := openMariaDB(ctx, local)
	if err != nil {
		return rep, fmt.Errorf("promote mariadb: %w", err)
	}
	defer db.Close()

	f, err := waitRelayApplied(ctx, db, l.catchup(), last, &rep)
	if err != nil {
		return rep, fmt.Errorf("promote mariadb: %w", err)
	}
	rep.Decision = Verdict(Facts{MariaDB: &f}, l, last)
	if !rep.Decision.Promotable {
		if !force {
			return rep, fmt.Errorf("promote mariadb: %w: %s", ErrRefused, strings.Join(rep.Decision.Reasons, "; "))
		}
		rep.Forced = true
		rep.step("gate refused, overridden by --force: %s", strings.Join(rep.Decision.Reasons, "; "))
	}
	if f.Replica != nil {
		if _, err := db.ExecContext(ctx, "STOP SLAVE"); err != nil {
			return rep, fmt.Errorf("promote mariadb: STOP SLAVE (the account needs REPLICATION SLAVE ADMIN): %w", err)
		}
		rep.step("STOP SLAVE")
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL read_only = OFF"); err != nil {
		return rep, fmt.Errorf("promote mariadb: SET GLOBAL read_only=OFF (the account needs READ_ONLY ADMIN): %w", err)
	}
	rep.step("SET GLOBAL read_only=OFF")
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_slave_pos").Scan(&rep.GTIDSlavePos); err != nil {
		return rep, fmt.Errorf("promote mariadb: read gtid_slave_pos after opening: %w", err)
	}
	rep.step("opened at gtid_slave_pos %s", rep.GTIDSlavePos)
	rep.OldWriter = "not attempted: no address of the old writer"
	if remote != "" {
		// Bounded: the old writer may be dead, or SET GLOBAL read_only may
		// wait for its open write transactions.
		rctx, cancel := context.WithTimeout(ctx, 2*l.connect())
		err := DemoteMariaDB(rctx, remote)
		cancel()
		if err != nil {
			rep.OldWriter = "could not set read_only=ON: " + err.Error()
		} else {
			rep.OldWriter = "read_only=ON set"
		}
		rep.step("old writer: %s", rep.OldWriter)
	}
	return rep, nil
}

// waitRelayApplied polls until the SQL thread has applied everything the IO
// thread received (and, while the IO thread is connected, everything the old
// writer was last seen to have), the SQL thread is not running (nothing will
// change), or the timeout passes; it returns the last facts either way.
func waitRelayApplied(ctx context.Context, db *sql.DB, timeout time.Duration, last Known, rep *Report) (MariaDBFacts, error) {
	writer, _ := ParseGTIDPos(last.WriterGTIDBinlogPos)
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		f, err := probeMariaDB(ctx, db)
		if err != nil {
			return f, err
		}
		r := f.Replica
		if r == nil || r.SQLRunning != "Yes" {
			return f, nil
		}
		if relayApplied(f) && (r.IORunning != "Yes" || hasAll(f, writer)) {
			return f, nil
		}
		if time.Now().After(deadline) {
			rep.step("relay log still not applied after catchup-timeout %s", timeout)
			return f, nil
		}
		select {
		case <-ctx.Done():
			return f, fmt.Errorf("wait for the relay log to be applied: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func relayApplied(f MariaDBFacts) bool {
	r := f.Replica
	if r.MasterLogFile != r.RelayMasterLogFile || r.ReadMasterLogPos != r.ExecMasterLogPos {
		return false
	}
	recv, err1 := ParseGTIDPos(r.GTIDIOPos)
	cur, err2 := ParseGTIDPos(f.GTIDCurrentPos)
	slave, err3 := ParseGTIDPos(f.GTIDSlavePos)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	applied := newest(cur, slave)
	for dom, g := range recv {
		if applied[dom].Seq < g.Seq {
			return false
		}
	}
	return true
}

// hasAll reports whether f has applied every domain's seq_no of writer.
func hasAll(f MariaDBFacts, writer GTIDPos) bool {
	cur, err1 := ParseGTIDPos(f.GTIDCurrentPos)
	slave, err2 := ParseGTIDPos(f.GTIDSlavePos)
	if err1 != nil || err2 != nil {
		return false
	}
	have := newest(cur, slave)
	for dom, g := range writer {
		if have[dom].Seq < g.Seq {
			return false
		}
	}
	return true
}

// DemoteMariaDB sets read_only=ON (bounded by ctx and the DSN's timeout).
func DemoteMariaDB(ctx context.Context, dsn string) error {
	db, err := openMariaDB(ctx, dsn)
	if err != nil {
		return fmt.Errorf("demote mariadb: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "SET GLOBAL read_only = ON"); err != nil {
		return fmt.Errorf("demote mariadb: SET GLOBAL read_only=ON (the account needs READ_ONLY ADMIN): %w", err)
	}
	return nil
}

package dbrepl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"xhad/internal/runner"
)

// PostgresDSN builds a libpq URL for host:port.
func PostgresDSN(addr, database, user, password string, connectTimeout time.Duration) string {
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	secs := int((connectTimeout + time.Second - 1) / time.Second)
	u := url.URL{Scheme: "postgres", Host: addr, Path: "/" + database, User: url.UserPassword(user, password)}
	q := url.Values{}
	q.Set("connect_timeout", strconv.Itoa(secs))
	q.Set("sslmode", "prefer")
	u.RawQuery = q.Encode()
	return u.String()
}

func connectPostgres(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgresql dsn: %w", err)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgresql %s:%d as %s: %w", cfg.Host, cfg.Port, cfg.User, err)
	}
	return conn, nil
}

// ProbePostgres reads the replication facts of one PostgreSQL server.
func ProbePostgres(ctx context.Context, dsn string) (PGFacts, error) {
	conn, err := connectPostgres(ctx, dsn)
	if err != nil {
		return PGFacts{}, err
	}
	defer conn.Close(context.Background())
	return probePostgres(ctx, conn)
}

func probePostgres(ctx context.Context, conn *pgx.Conn) (PGFacts, error) {
	var f PGFacts
	var recv, replay *string
	var ts *time.Time
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&f.InRecovery); err != nil {
		return f, fmt.Errorf("read postgresql pg_is_in_recovery(): %w", err)
	}
	pause := `'not paused'` // pg_get_wal_replay_pause_state() fails outside recovery
	if f.InRecovery {
		pause = `pg_get_wal_replay_pause_state()`
	}
	err := conn.QueryRow(ctx, `SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, `+pause+`,
		pg_last_xact_replay_timestamp()`).Scan(&recv, &replay, &f.PauseState, &ts)
	if err != nil {
		return f, fmt.Errorf("read postgresql recovery state (the account needs pg_monitor): %w", err)
	}
	if ts != nil {
		f.LastReplayTS = *ts
	}
	if f.ReceiveLSN, err = optLSN(recv); err != nil {
		return f, err
	}
	if f.ReplayLSN, err = optLSN(replay); err != nil {
		return f, err
	}
	if !f.InRecovery {
		f.PauseState = ""
		var cur string
		var tli int64
		err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text,
			('x'||substr(pg_walfile_name(pg_current_wal_lsn()),1,8))::bit(32)::int`).Scan(&cur, &tli)
		if err != nil {
			return f, fmt.Errorf("read postgresql primary position: %w", err)
		}
		if f.CurrentLSN, err = ParseLSN(cur); err != nil {
			return f, err
		}
		f.Timeline = uint32(tli)
		return f, nil
	}
	rows, err := conn.Query(ctx, `SELECT status, coalesce(received_tli, 0), flushed_lsn::text, latest_end_lsn::text,
		last_msg_receipt_time, coalesce(sender_host, ''), coalesce(sender_port, 0) FROM pg_stat_wal_receiver`)
	if err != nil {
		return f, fmt.Errorf("read pg_stat_wal_receiver: %w", err)
	}
	for rows.Next() {
		var w WALReceiver
		var tli int64
		var flushed, latest *string
		var receipt *time.Time
		var port int32
		if err := rows.Scan(&w.Status, &tli, &flushed, &latest, &receipt, &w.SenderHost, &port); err != nil {
			rows.Close()
			return f, fmt.Errorf("read pg_stat_wal_receiver: %w", err)
		}
		w.ReceivedTLI, w.SenderPort = uint32(tli), int(port)
		if receipt != nil {
			w.LastMsgReceipt = *receipt
		}
		if w.FlushedLSN, err = optLSN(flushed); err != nil {
			rows.Close()
			return f, err
		}
		if w.LatestEndLSN, err = optLSN(latest); err != nil {
			rows.Close()
			return f, err
		}
		f.Receiver = &w
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("read pg_stat_wal_receiver: %w", err)
	}
	if f.Receiver != nil && f.Receiver.ReceivedTLI != 0 {
		f.Timeline = f.Receiver.ReceivedTLI
	} else {
		var tli int64
		if err := conn.QueryRow(ctx, `SELECT timeline_id FROM pg_control_checkpoint()`).Scan(&tli); err != nil {
			return f, fmt.Errorf("read pg_control_checkpoint timeline: %w", err)
		}
		f.Timeline = uint32(tli)
	}
	return f, nil
}

func optLSN(s *string) (LSN, error) {
	if s == nil {
		return 0, nil
	}
	return ParseLSN(*s)
}

// PromotePostgres promotes the standby at dsn: the verdict first (refused
// unless force), then pg_wal_replay_resume() when replay is paused,
// pg_promote(true, catchup-timeout), and a check that the server left
// recovery.
func PromotePostgres(ctx context.Context, dsn string, l Limits, last Known, force bool) (Report, error) {
	var rep Report
	conn, err := connectPostgres(ctx, dsn)
	if err != nil {
		return rep, fmt.Errorf("promote postgresql: %w", err)
	}
	defer conn.Close(context.Background())
	f, err := probePostgres(ctx, conn)
	if err != nil {
		return rep, fmt.Errorf("promote postgresql: %w", err)
	}
	rep.Decision = Verdict(Facts{Postgres: &f}, l, last)
	if !rep.Decision.Promotable {
		if !force {
			return rep, fmt.Errorf("promote postgresql: %w: %s", ErrRefused, strings.Join(rep.Decision.Reasons, "; "))
		}
		rep.Forced = true
		rep.step("gate refused, overridden by --force: %s", strings.Join(rep.Decision.Reasons, "; "))
	}
	if f.InRecovery {
		if f.PauseState != "not paused" {
			if _, err := conn.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
				return rep, fmt.Errorf("promote postgresql: pg_wal_replay_resume() (grant EXECUTE on it to the account): %w", err)
			}
			rep.step("pg_wal_replay_resume()")
		}
		secs := int(l.catchup() / time.Second)
		if secs < 1 {
			secs = 1
		}
		var done bool
		if err := conn.QueryRow(ctx, "SELECT pg_promote(true, $1)", secs).Scan(&done); err != nil {
			return rep, fmt.Errorf("promote postgresql: pg_promote (grant EXECUTE on pg_promote(boolean, integer) to the account): %w", err)
		}
		if !done {
			return rep, fmt.Errorf("promote postgresql: pg_promote did not finish within %d s; check the server log, the standby may still be replaying", secs)
		}
		rep.step("pg_promote(true, %d)", secs)
	} else {
		rep.step("already a primary")
	}
	after, err := probePostgres(ctx, conn)
	if err != nil {
		return rep, fmt.Errorf("promote postgresql: check after pg_promote: %w", err)
	}
	if after.InRecovery {
		return rep, errors.New("promote postgresql: the server is still in recovery after pg_promote; check its log")
	}
	rep.Timeline, rep.LSN = after.Timeline, after.CurrentLSN
	rep.step("primary on timeline %d at %s", after.Timeline, after.CurrentLSN)
	return rep, nil
}

// RejoinOptions say how to turn a stopped old primary into a standby of the
// new primary.
type RejoinOptions struct {
	DataDir string // the old primary's data directory
	BinDir  string // PostgreSQL binaries; default /usr/lib/postgresql/15/bin
	RunAs   string // OS user that owns DataDir; default postgres (pg_rewind runs as that user via runuser)
	// SourceServer is the libpq conninfo pg_rewind reads from (the new
	// primary; a superuser or a role with EXECUTE on pg_ls_dir, pg_stat_file,
	// pg_read_binary_file).
	SourceServer string
	// PrimaryConninfo is written as primary_conninfo (replication to the new primary).
	PrimaryConninfo string
	Timeout         time.Duration // pg_rewind; default 5 minutes
}

// RejoinReport says what Rejoin did.
type RejoinReport struct {
	Rewound bool     // pg_rewind succeeded
	Steps   []string // in order
}

// ErrServerRunning is returned by Rejoin and Guard while the old primary runs.
var ErrServerRunning = errors.New("postgresql server is running")

// Guard creates standby.signal in a stopped old primary's data directory, so
// that it can only start as a read-only standby, never as a second primary.
func Guard(dataDir string) error {
	if pid, alive := postmasterAlive(dataDir); alive {
		return fmt.Errorf("guard %s: %w (postmaster pid %d); stop it first (pg_ctl stop -m fast -D %s)", dataDir, ErrServerRunning, pid, dataDir)
	}
	return writeStandbySignal(dataDir)
}

// Rejoin turns a stopped old primary into a standby of the new primary:
// pg_rewind, then primary_conninfo, no primary_slot_name, standby.signal. When
// pg_rewind fails, standby.signal is still written (the server can only start
// read-only) and the error says to re-clone it with pg_basebackup -R. Rejoin
// does not start the server.
func Rejoin(ctx context.Context, r runner.Runner, o RejoinOptions) (RejoinReport, error) {
	var rep RejoinReport
	if o.BinDir == "" {
		o.BinDir = "/usr/lib/postgresql/15/bin"
	}
	if o.RunAs == "" {
		o.RunAs = "postgres"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if pid, alive := postmasterAlive(o.DataDir); alive {
		return rep, fmt.Errorf("rejoin %s: %w (postmaster pid %d); stop it first (pg_ctl stop -m fast -D %s)", o.DataDir, ErrServerRunning, pid, o.DataDir)
	}
	// pg_rewind reads the source's timeline from pg_control, which shows the
	// new timeline only after a checkpoint.
	if conn, err := connectPostgres(ctx, o.SourceServer); err != nil {
		rep.Steps = append(rep.Steps, "CHECKPOINT on the new primary skipped: "+err.Error())
	} else {
		if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
			rep.Steps = append(rep.Steps, "CHECKPOINT on the new primary failed: "+err.Error())
		} else {
			rep.Steps = append(rep.Steps, "CHECKPOINT on the new primary")
		}
		conn.Close(context.Background())
	}
	_, rewindErr := r.Run(ctx, runner.Cmd{Path: "runuser", Args: []string{"-u", o.RunAs, "--",
		filepath.Join(o.BinDir, "pg_rewind"), "-D", o.DataDir, "--source-server=" + o.SourceServer},
		Timeout: o.Timeout})
	if rewindErr == nil {
		rep.Rewound = true
		rep.Steps = append(rep.Steps, "pg_rewind from the new primary")
	} else {
		msg := rewindErr.Error()
		var ee *runner.ExitError
		if errors.As(rewindErr, &ee) {
			msg = lastLines(ee.Stderr, 6)
		}
		rep.Steps = append(rep.Steps, "pg_rewind failed: "+msg)
	}
	if err := writeRecoveryConf(o.DataDir, o.PrimaryConninfo); err != nil {
		return rep, fmt.Errorf("rejoin %s: %w", o.DataDir, err)
	}
	rep.Steps = append(rep.Steps, "primary_conninfo written, primary_slot_name removed")
	if err := writeStandbySignal(o.DataDir); err != nil {
		return rep, fmt.Errorf("rejoin %s: %w", o.DataDir, err)
	}
	rep.Steps = append(rep.Steps, "standby.signal created")
	if rewindErr != nil {
		return rep, fmt.Errorf("rejoin %s: pg_rewind failed, the server will only start read-only; re-clone it with pg_basebackup -R from the new primary: %w", o.DataDir, rewindErr)
	}
	return rep, nil
}

// postmasterAlive reads postmaster.pid and checks the process exists.
func postmasterAlive(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return pid, false
	}
	// A zombie (killed, not yet reaped) holds no lock on the data directory.
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if _, rest, ok := strings.Cut(string(st), ") "); ok && strings.HasPrefix(rest, "Z") {
			return pid, false
		}
	}
	return pid, true
}

func writeStandbySignal(dataDir string) error {
	p := filepath.Join(dataDir, "standby.signal")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	return chownLike(p, dataDir)
}

// writeRecoveryConf rewrites postgresql.auto.conf: primary_slot_name and
// primary_conninfo lines removed (pg_rewind copied the source's), the new
// primary_conninfo appended.
func writeRecoveryConf(dataDir, conninfo string) error {
	p := filepath.Join(dataDir, "postgresql.auto.conf")
	old, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", p, err)
	}
	var out []string
	for _, line := range strings.Split(string(old), "\n") {
		k := strings.TrimSpace(line)
		if strings.HasPrefix(k, "primary_slot_name") || strings.HasPrefix(k, "primary_conninfo") || k == "" {
			continue
		}
		out = append(out, line)
	}
	if conninfo != "" {
		out = append(out, "primary_conninfo = '"+strings.ReplaceAll(conninfo, "'", "''")+"'")
	}
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return chownLike(p, dataDir)
}

func chownLike(path, ref string) error {
	st, err := os.Stat(ref)
	if err != nil {
		return fmt.Errorf("stat %s: %w", ref, err)
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(path, int(s.Uid), int(s.Gid)); err != nil {
			return fmt.Errorf("chown %s like %s: %w", path, ref, err)
		}
	}
	return nil
}

// PostgresConninfo builds a keyword/value conninfo (for pg_rewind and
// primary_conninfo) from host:port.
func PostgresConninfo(addr, database, user, password string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "5432"
	}
	q := func(s string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }
	parts := []string{"host=" + q(host), "port=" + q(port), "user=" + q(user), "dbname=" + q(database)}
	if password != "" {
		parts = append(parts, "password="+q(password))
	}
	return strings.Join(parts, " ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

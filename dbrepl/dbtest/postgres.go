package dbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"xhad/internal/runner"
)

// PGBin is where the PostgreSQL 15 binaries are.
const PGBin = "/usr/lib/postgresql/15/bin"

// PGNode is one PostgreSQL server.
type PGNode struct {
	Index   int
	Port    int
	DataDir string
	dir     string
	proc    *Proc
}

// Addr is host:port.
func (n *PGNode) Addr() string { return fmt.Sprintf("127.0.0.1:%d", n.Port) }

// PGPair is a primary (node 0 at the start) and a streaming hot standby
// (node 1), both with trust authentication on 127.0.0.1 for the superuser
// postgres.
type PGPair struct {
	Nodes [2]*PGNode
}

// StartPGPair starts the pair and stops it in t.Cleanup.
func StartPGPair(t testing.TB) *PGPair {
	t.Helper()
	Require(t, []string{PGBin + "/postgres", PGBin + "/initdb", PGBin + "/pg_basebackup"}, "postgres")
	root := t.TempDir()
	if err := traversable(root); err != nil {
		t.Fatal(err)
	}
	p := &PGPair{}
	t.Cleanup(func() {
		for _, n := range p.Nodes {
			if n != nil && n.proc != nil {
				// SIGINT: fast shutdown.
				if err := n.proc.Signal(unix.SIGINT, 30*time.Second); err != nil {
					t.Errorf("stop postgresql %d: %v", n.Index, err)
				}
			}
		}
	})
	for i := range p.Nodes {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		n := &PGNode{Index: i, Port: port, dir: filepath.Join(root, fmt.Sprintf("p%d", i+1))}
		n.DataDir = filepath.Join(n.dir, "data")
		if err := ownedDir(n.dir, "postgres", 0o750); err != nil {
			t.Fatal(err)
		}
		p.Nodes[i] = n
	}
	ctx := context.Background()
	if _, err := Run.Run(ctx, runner.Cmd{Path: "runuser", Args: []string{"-u", "postgres", "--", PGBin + "/initdb",
		"-D", p.Nodes[0].DataDir, "-U", "postgres", "--auth=trust", "--no-sync", "--data-checksums", "--locale=C", "-E", "UTF8"}, Timeout: 120 * time.Second}); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	// In the file, not on the command line: pg_rewind's crash recovery
	// (postgres --single) must see wal_keep_size too, or it recycles the WAL
	// that pg_rewind needs.
	conf := filepath.Join(p.Nodes[0].DataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\n# dbtest\nlisten_addresses = '127.0.0.1'\nwal_log_hints = on\nfsync = off\nshared_buffers = 16MB\n" +
		"max_wal_senders = 5\nwal_keep_size = 256MB\nhot_standby = on\nwal_receiver_status_interval = 1s\n" +
		"logging_collector = off\nmax_connections = 30\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("write %s: %v", conf, err)
	}
	p.Start(t, 0)
	// The daemon's least-privilege account (replicated to the standby).
	p.Exec(t, 0, "CREATE ROLE ha LOGIN")
	p.Exec(t, 0, "GRANT pg_monitor TO ha")
	p.Exec(t, 0, "GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer), pg_wal_replay_resume(), pg_wal_replay_pause() TO ha")
	if _, err := Run.Run(ctx, runner.Cmd{Path: "runuser", Args: []string{"-u", "postgres", "--", PGBin + "/pg_basebackup",
		"-h", "127.0.0.1", "-p", strconv.Itoa(p.Nodes[0].Port), "-U", "postgres", "-D", p.Nodes[1].DataDir,
		"-R", "-X", "stream", "-c", "fast", "--no-sync"}, Timeout: 120 * time.Second}); err != nil {
		t.Fatalf("pg_basebackup: %v", err)
	}
	p.Start(t, 1)
	p.WaitStreaming(t, 1)
	return p
}

// DSN is a libpq URL for node i as postgres.
func (p *PGPair) DSN(i int) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?connect_timeout=2&sslmode=disable", p.Nodes[i].Port)
}

// HADSN is a libpq URL for node i as ha (pg_monitor, EXECUTE on pg_promote
// and pg_wal_replay_pause/resume; no superuser).
func (p *PGPair) HADSN(i int) string {
	return fmt.Sprintf("postgres://ha@127.0.0.1:%d/postgres?connect_timeout=2&sslmode=disable", p.Nodes[i].Port)
}

// Conninfo is a keyword/value conninfo for node i (pg_rewind, primary_conninfo).
func (p *PGPair) Conninfo(i int) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", p.Nodes[i].Port)
}

// Start starts node i (again) and waits until it accepts connections.
func (p *PGPair) Start(t testing.TB, i int) {
	t.Helper()
	n := p.Nodes[i]
	sock := filepath.Join(n.dir, "sock")
	if err := ownedDir(sock, "postgres", 0o750); err != nil {
		t.Fatal(err)
	}
	proc, err := startDaemon(context.Background(), "postgres", filepath.Join(n.dir, "server.log"), filepath.Join(n.dir, "ssd.pid"),
		PGBin+"/postgres", "-D", n.DataDir, "-p", strconv.Itoa(n.Port), "-k", sock)
	if err != nil {
		t.Fatal(err)
	}
	n.proc = proc
	WaitFor(t, fmt.Sprintf("postgresql node %d to accept connections", i), 60*time.Second, func() (bool, string) {
		select {
		case <-proc.exited:
			return false, "server exited: " + tail(proc.Log, 15)
		default:
		}
		_, err := p.TryQuery(i, "SELECT 1")
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// TryQuery returns the first column of the first row as text ("NULL" for NULL).
func (p *PGPair) TryQuery(i int, q string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(i))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var v *string
	if err := conn.QueryRow(ctx, q, args...).Scan(&v); err != nil {
		return "", err
	}
	if v == nil {
		return "NULL", nil
	}
	return *v, nil
}

// Query is TryQuery that fails t.
func (p *PGPair) Query(t testing.TB, i int, q string, args ...any) string {
	t.Helper()
	v, err := p.TryQuery(i, q, args...)
	if err != nil {
		t.Fatalf("postgresql node %d: %s: %v", i, q, err)
	}
	return v
}

// TryExec runs q on node i.
func (p *PGPair) TryExec(i int, q string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(i))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, q, args...)
	return err
}

// Exec is TryExec that fails t.
func (p *PGPair) Exec(t testing.TB, i int, q string, args ...any) {
	t.Helper()
	if err := p.TryExec(i, q, args...); err != nil {
		t.Fatalf("postgresql node %d: %s: %v", i, q, err)
	}
}

// WaitStreaming waits until standby i streams from a primary.
func (p *PGPair) WaitStreaming(t testing.TB, i int) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("postgresql node %d to stream", i), 60*time.Second, func() (bool, string) {
		s, err := p.TryQuery(i, "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'no receiver')")
		if err != nil {
			return false, err.Error()
		}
		return s == "streaming", s + "; log: " + tail(p.Nodes[i].proc.Log, 5)
	})
}

// WaitReplayed waits until standby i has replayed primary j's current LSN.
func (p *PGPair) WaitReplayed(t testing.TB, i, j int) {
	t.Helper()
	want := p.Query(t, j, "SELECT pg_current_wal_lsn()::text")
	WaitFor(t, fmt.Sprintf("postgresql node %d to replay %s", i, want), 60*time.Second, func() (bool, string) {
		got, err := p.TryQuery(i, "SELECT (pg_last_wal_replay_lsn() >= $1::pg_lsn)::text || ' ' || pg_last_wal_replay_lsn()::text", want)
		if err != nil {
			return false, err.Error()
		}
		return len(got) > 4 && got[:4] == "true", got
	})
}

// Kill sends SIGKILL to node i's postmaster and reaps it.
func (p *PGPair) Kill(t testing.TB, i int) {
	t.Helper()
	if err := p.Nodes[i].proc.Signal(unix.SIGKILL, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The backends notice the dead postmaster and exit; wait until none
	// holds the data directory, and reap them.
	WaitFor(t, fmt.Sprintf("postgresql node %d backends to exit", i), 30*time.Second, func() (bool, string) {
		reapOrphans("postgres")
		b, err := os.ReadFile(filepath.Join(p.Nodes[i].DataDir, "postmaster.pid"))
		if err != nil {
			return true, ""
		}
		return !anyAttached(p.Nodes[i].DataDir), fmt.Sprintf("postmaster.pid %q", firstLine(string(b)))
	})
	reapOrphans("postgres")
}

// Stop shuts node i down (fast).
func (p *PGPair) Stop(t testing.TB, i int) {
	t.Helper()
	if err := p.Nodes[i].proc.Signal(unix.SIGINT, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Running reports whether node i's postmaster runs.
func (p *PGPair) Running(i int) bool {
	n := p.Nodes[i]
	if n.proc == nil {
		return false
	}
	select {
	case <-n.proc.exited:
		return false
	default:
		return true
	}
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// anyAttached reports whether a live (non-zombie) process has its current
// directory in dataDir (every postgres backend does).
func anyAttached(dataDir string) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err == nil && cwd == dataDir {
			return true
		}
	}
	return false
}

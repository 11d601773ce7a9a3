package dbtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"xhad/internal/runner"
)

// PGBin is where the PostgreSQL 15 binaries are.
const PGBin = "/usr/lib/postgresql/15/bin"

// PostgreSQL roles of a pair (besides the superuser postgres, trusted on
// 127.0.0.1 and, for a namespaced pair, on the unix socket).
const (
	PGHA   = "ha"   // the daemon's role: pg_monitor, EXECUTE on pg_promote and pg_wal_replay_pause/resume; password hapass
	PGRepl = "repl" // REPLICATION, for a namespaced standby's primary_conninfo; password replpass
)

// PGNode is one PostgreSQL server.
type PGNode struct {
	Index   int
	Host    string // the address it listens on: 127.0.0.1, or PGOptions.Bind
	Port    int
	Netns   string // its network namespace; "" = the test process's own
	DataDir string
	Socket  string // its unix socket directory, reachable from any namespace
	dir     string
	proc    *Proc
}

// Addr is host:port, as the other server and the daemons reach it.
func (n *PGNode) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// PGOptions place the servers of a pair. The zero value is StartPGPair's:
// both in the test's namespace on 127.0.0.1, free ports, the standby
// streaming from 127.0.0.1 as postgres.
type PGOptions struct {
	// Netns is the network namespace of each server (an existing
	// /run/netns name); "" keeps a server in the test's namespace. A
	// namespaced server is started with `ip netns exec`, and the test talks
	// to it over its unix socket (PGNode.Socket): the test process cannot
	// reach addresses inside another namespace by TCP.
	Netns [2]string
	// Bind is the address each server listens on; it must be set for a
	// namespaced server (e.g. the dedicated link's 10.240.X.1 and .2). The
	// standby streams from the primary's Bind address. Default 127.0.0.1.
	Bind [2]string
	// Port is the TCP port of both servers; default 5432 when both are
	// namespaced (each namespace has its own ports), else a free port of
	// 127.0.0.1 for each.
	Port int
	// AuthHosts are the CIDRs (e.g. "10.240.7.0/24", the link's subnet)
	// from which pg_hba.conf admits, with scram-sha-256 passwords, the
	// role repl for replication and the role ha to every database. When
	// set, the standby streams as repl with a password; otherwise as
	// postgres under trust (127.0.0.1 only).
	AuthHosts []string
}

func (o PGOptions) namespaced() bool { return o.Netns[0] != "" || o.Netns[1] != "" }

// PGPair is a primary (node 0 at the start) and a streaming hot standby
// (node 1), both with trust authentication on 127.0.0.1 (and on the unix
// socket) for the superuser postgres.
type PGPair struct {
	Nodes [2]*PGNode
	opts  PGOptions
}

// StartPGPair starts the pair and stops it in t.Cleanup.
func StartPGPair(t testing.TB) *PGPair {
	t.Helper()
	return StartPGPairWith(t, PGOptions{})
}

// StartPGPairWith is StartPGPair with the servers placed by o: for example
// each inside a host's network namespace, bound to the address of its end
// of a link, so that the standby streams over that link.
func StartPGPairWith(t testing.TB, o PGOptions) *PGPair {
	t.Helper()
	Require(t, []string{PGBin + "/postgres", PGBin + "/initdb", PGBin + "/pg_basebackup"}, "postgres")
	for i := range o.Netns {
		if o.Netns[i] != "" && o.Bind[i] == "" {
			t.Fatalf("dbtest: postgresql node %d in namespace %s without a Bind address: set PGOptions.Bind[%d] to an address of that namespace", i, o.Netns[i], i)
		}
		if o.Bind[i] == "" {
			o.Bind[i] = "127.0.0.1"
		}
	}
	if o.Port == 0 && o.Netns[0] != "" && o.Netns[1] != "" {
		o.Port = 5432
	}
	for _, h := range o.AuthHosts {
		if _, _, err := net.ParseCIDR(h); err != nil {
			t.Fatalf("dbtest: PGOptions.AuthHosts %q is not a CIDR; write it like \"10.240.7.0/24\": %v", h, err)
		}
	}
	root := t.TempDir()
	if err := traversable(root); err != nil {
		t.Fatal(err)
	}
	p := &PGPair{opts: o}
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
		port := o.Port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				t.Fatal(err)
			}
		}
		n := &PGNode{Index: i, Host: o.Bind[i], Port: port, Netns: o.Netns[i], dir: filepath.Join(root, fmt.Sprintf("p%d", i+1))}
		n.DataDir = filepath.Join(n.dir, "data")
		n.Socket = filepath.Join(n.dir, "sock")
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
	if err := appendFile(conf, "\n# dbtest\nlisten_addresses = '127.0.0.1'\nwal_log_hints = on\nfsync = off\nshared_buffers = 16MB\n"+
		"max_wal_senders = 5\nwal_keep_size = 256MB\nhot_standby = on\nwal_receiver_status_interval = 1s\n"+
		"logging_collector = off\nmax_connections = 30\n"); err != nil {
		t.Fatal(err)
	}
	if len(o.AuthHosts) > 0 {
		// Copied to the standby by pg_basebackup.
		var hba strings.Builder
		hba.WriteString("\n# dbtest: the link\n")
		for _, h := range o.AuthHosts {
			fmt.Fprintf(&hba, "host replication %s %s scram-sha-256\nhost all %s %s scram-sha-256\n", PGRepl, h, PGHA, h)
		}
		if err := appendFile(filepath.Join(p.Nodes[0].DataDir, "pg_hba.conf"), hba.String()); err != nil {
			t.Fatal(err)
		}
	}
	p.Start(t, 0)
	// The daemon's least-privilege account (replicated to the standby).
	p.Exec(t, 0, "CREATE ROLE ha LOGIN PASSWORD 'hapass'")
	p.Exec(t, 0, "GRANT pg_monitor TO ha")
	p.Exec(t, 0, "GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer), pg_wal_replay_resume(), pg_wal_replay_pause() TO ha")
	if !o.namespaced() && len(o.AuthHosts) == 0 {
		if _, err := Run.Run(ctx, runner.Cmd{Path: "runuser", Args: []string{"-u", "postgres", "--", PGBin + "/pg_basebackup",
			"-h", "127.0.0.1", "-p", strconv.Itoa(p.Nodes[0].Port), "-U", "postgres", "-D", p.Nodes[1].DataDir,
			"-R", "-X", "stream", "-c", "fast", "--no-sync"}, Timeout: 120 * time.Second}); err != nil {
			t.Fatalf("pg_basebackup: %v", err)
		}
	} else {
		p.Exec(t, 0, "CREATE ROLE repl LOGIN REPLICATION PASSWORD 'replpass'")
		// From the test's namespace through the primary's unix socket;
		// the standby then streams from the primary's Bind address.
		if _, err := Run.Run(ctx, runner.Cmd{Path: "runuser", Args: []string{"-u", "postgres", "--", PGBin + "/pg_basebackup",
			"-h", p.Nodes[0].Socket, "-p", strconv.Itoa(p.Nodes[0].Port), "-U", "postgres", "-D", p.Nodes[1].DataDir,
			"-X", "stream", "-c", "fast", "--no-sync"}, Timeout: 120 * time.Second}); err != nil {
			t.Fatalf("pg_basebackup from postgresql node 0's socket %s: %v", p.Nodes[0].Socket, err)
		}
		if err := p.Follow(1, 0); err != nil {
			t.Fatal(err)
		}
	}
	p.Start(t, 1)
	p.WaitStreaming(t, 1)
	return p
}

// Follow makes stopped node i a standby of node j on its next start:
// standby.signal and, in postgresql.auto.conf, a primary_conninfo to node
// j's Addr (as repl with its password when PGOptions.AuthHosts is set, else
// as postgres).
func (p *PGPair) Follow(i, j int) error {
	n := p.Nodes[i]
	if err := os.WriteFile(filepath.Join(n.DataDir, "standby.signal"), nil, 0o600); err != nil {
		return fmt.Errorf("dbtest: make postgresql node %d a standby: %w", i, err)
	}
	if err := chownPostgres(filepath.Join(n.DataDir, "standby.signal")); err != nil {
		return err
	}
	ci := fmt.Sprintf("host=%s port=%d user=postgres application_name=node%d", p.Nodes[j].Host, p.Nodes[j].Port, i)
	if len(p.opts.AuthHosts) > 0 {
		ci = fmt.Sprintf("host=%s port=%d user=%s password=replpass application_name=node%d", p.Nodes[j].Host, p.Nodes[j].Port, PGRepl, i)
	}
	if err := appendFile(filepath.Join(n.DataDir, "postgresql.auto.conf"), fmt.Sprintf("primary_conninfo = '%s'\n", ci)); err != nil {
		return fmt.Errorf("dbtest: make postgresql node %d a standby of node %d: %w", i, j, err)
	}
	return nil
}

// PrimaryConninfo is the conninfo a standby of node j streams with (the
// primary_conninfo Follow writes, without application_name). pg_rewind
// run by the test process uses Conninfo instead: it reaches a namespaced
// server only by its socket.
func (p *PGPair) PrimaryConninfo(j int) string {
	if len(p.opts.AuthHosts) > 0 {
		return fmt.Sprintf("host=%s port=%d user=%s password=replpass", p.Nodes[j].Host, p.Nodes[j].Port, PGRepl)
	}
	return fmt.Sprintf("host=%s port=%d user=postgres", p.Nodes[j].Host, p.Nodes[j].Port)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("dbtest: append to %s: %w", path, err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dbtest: write %s: %w", path, err)
	}
	return nil
}

func chownPostgres(path string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("dbtest: chown %s: %w", path, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("dbtest: chown %s to postgres: %w", path, err)
	}
	return nil
}

// DSN is a libpq URL for node i as postgres, the way the test process
// reaches it: TCP to 127.0.0.1, or the unix socket for a server in another
// network namespace.
func (p *PGPair) DSN(i int) string {
	return p.dsn(i, "postgres")
}

// HADSN is a libpq URL for node i as ha (pg_monitor, EXECUTE on pg_promote
// and pg_wal_replay_pause/resume; no superuser), reached like DSN.
func (p *PGPair) HADSN(i int) string {
	return p.dsn(i, PGHA)
}

func (p *PGPair) dsn(i int, role string) string {
	n := p.Nodes[i]
	if n.Netns != "" {
		return fmt.Sprintf("postgres://%s@/postgres?host=%s&port=%d&connect_timeout=2&sslmode=disable", role, url.QueryEscape(n.Socket), n.Port)
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?connect_timeout=2&sslmode=disable", role, n.Port)
}

// Conninfo is a keyword/value conninfo for node i as postgres, reached like
// DSN (pg_rewind's source server; primary_conninfo of a loopback pair).
func (p *PGPair) Conninfo(i int) string {
	n := p.Nodes[i]
	if n.Netns != "" {
		return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", n.Socket, n.Port)
	}
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", n.Port)
}

// Start starts node i (again) and waits until it accepts connections.
func (p *PGPair) Start(t testing.TB, i int) {
	t.Helper()
	n := p.Nodes[i]
	if err := ownedDir(n.Socket, "postgres", 0o750); err != nil {
		t.Fatal(err)
	}
	args := []string{"-D", n.DataDir, "-p", strconv.Itoa(n.Port), "-k", n.Socket}
	if n.Netns != "" || n.Host != "127.0.0.1" {
		args = append(args, "-h", n.Host)
	}
	logFile, pidFile := filepath.Join(n.dir, "server.log"), filepath.Join(n.dir, "ssd.pid")
	var proc *Proc
	var err error
	if n.Netns == "" {
		proc, err = startDaemon(context.Background(), "postgres", logFile, pidFile, PGBin+"/postgres", args...)
	} else {
		proc, err = startDaemonIn(context.Background(), n.Netns, "postgres", logFile, pidFile, PGBin+"/postgres", args...)
	}
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

// GroupTOML writes the daemons' credentials file (role ha, key=value lines)
// into dir and returns an xhad [[group]] "db" whose database resource "pg"
// guards this pair: node a's server is node 0, b's is node 1, at their Addr,
// database postgres. keys are more keys of the resource ("" =
// max-lag-bytes 1 MiB, catchup-timeout 3s). The daemons reach the servers
// by TCP at Addr, so a namespaced pair needs PGOptions.AuthHosts covering
// the daemons' addresses.
func (p *PGPair) GroupTOML(t testing.TB, dir, keys string) string {
	t.Helper()
	if keys == "" {
		keys = "max-lag-bytes = 1048576\n  catchup-timeout = \"3s\""
	}
	return groupTOML(t, dir, "# xhad's role on both servers\nuser="+PGHA+"\npassword=hapass\n", "pg", "postgresql",
		[2]string{p.Nodes[0].Addr(), p.Nodes[1].Addr()}, "database = \"postgres\"\n  "+keys)
}

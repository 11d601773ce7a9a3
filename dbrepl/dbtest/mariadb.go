package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sys/unix"

	"xhad/internal/runner"
)

// MariaDB binaries.
const (
	MariaDBD       = "/usr/sbin/mariadbd"
	MariaDBInstall = "/usr/bin/mariadb-install-db"
)

// Accounts created on both MariaDB servers (host 127.0.0.1, and for a
// namespaced pair also localhost and MariaDBOptions.GrantHost).
const (
	MariaDBAdmin = "admin" // ALL WITH GRANT OPTION; password adminpass
	MariaDBHA    = "ha"    // the daemon's account; password hapass
	MariaDBApp   = "app"   // ALL on hatest.*; blocked by read_only; password apppass
)

// MariaDBNode is one server of the pair.
type MariaDBNode struct {
	Index    int    // 0 or 1
	Host     string // the address it listens on: 127.0.0.1, or MariaDBOptions.Bind
	Port     int
	Netns    string // its network namespace; "" = the test process's own
	Dir      string
	Socket   string // its unix socket (Dir/mysqld.sock), reachable from any namespace
	ServerID int    // 1 or 2, also the GTID domain and auto_increment_offset
	proc     *Proc
	args     []string
}

// Addr is host:port, as the other server and the daemons reach it.
func (n *MariaDBNode) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// MariaDBOptions place the servers of a pair. The zero value is
// StartMariaDBPair's: both in the test's namespace on 127.0.0.1, free ports.
type MariaDBOptions struct {
	// Netns is the network namespace of each server (an existing
	// /run/netns name); "" keeps a server in the test's namespace. A
	// namespaced server is started with `ip netns exec`, and the test talks
	// to it over its unix socket: the test process cannot reach addresses
	// inside another namespace by TCP.
	Netns [2]string
	// Bind is the address each server listens on and replicates from; it
	// must be set for a namespaced server (e.g. the dedicated link's
	// 10.240.X.1 and .2). Default 127.0.0.1.
	Bind [2]string
	// Port is the TCP port of both servers; default 3306 when both are
	// namespaced (each namespace has its own ports), else a free port of
	// 127.0.0.1 for each.
	Port int
	// GrantHost is the account host pattern the accounts (admin, repl, ha,
	// app) are created for besides 127.0.0.1 and localhost (the unix
	// socket), e.g. "10.240.7.%" for the link subnet.
	GrantHost string
}

// MariaDBPair is two MariaDB servers replicating from each other with GTIDs.
type MariaDBPair struct {
	Nodes [2]*MariaDBNode
	mu    sync.Mutex
}

// StartMariaDBPair starts a master-master pair and stops it in t.Cleanup.
// Both servers run with read_only=ON and skip_slave_start; replication is
// started in both directions. Database hatest exists.
func StartMariaDBPair(t testing.TB) *MariaDBPair {
	t.Helper()
	return StartMariaDBPairWith(t, MariaDBOptions{})
}

// StartMariaDBPairWith is StartMariaDBPair with the servers placed by o: for
// example each inside a host's network namespace, bound to the address of
// its end of a link, so that replication runs over that link.
func StartMariaDBPairWith(t testing.TB, o MariaDBOptions) *MariaDBPair {
	t.Helper()
	Require(t, []string{MariaDBD, MariaDBInstall}, "mysql")
	for i := range o.Netns {
		if o.Netns[i] != "" && o.Bind[i] == "" {
			t.Fatalf("dbtest: mariadb node %d in namespace %s without a Bind address: set MariaDBOptions.Bind[%d] to an address of that namespace", i, o.Netns[i], i)
		}
		if o.Bind[i] == "" {
			o.Bind[i] = "127.0.0.1"
		}
	}
	if o.Port == 0 && o.Netns[0] != "" && o.Netns[1] != "" {
		o.Port = 3306
	}
	root := t.TempDir()
	if err := traversable(root); err != nil {
		t.Fatal(err)
	}
	p := &MariaDBPair{}
	t.Cleanup(func() {
		for _, n := range p.Nodes {
			if n != nil && n.proc != nil {
				if err := n.proc.Signal(unix.SIGTERM, 30*time.Second); err != nil {
					t.Errorf("stop mariadb %d: %v", n.Index, err)
				}
			}
		}
	})
	hosts := []string{"127.0.0.1"}
	if o.Netns[0] != "" || o.Netns[1] != "" {
		hosts = append(hosts, "localhost")
	}
	if o.GrantHost != "" {
		hosts = append(hosts, o.GrantHost)
	}
	initFile := filepath.Join(root, "init.sql")
	if err := os.WriteFile(initFile, []byte(mariadbInitSQL(hosts)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	errs := make([]error, 2)
	for i := range p.Nodes {
		port := o.Port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(root, fmt.Sprintf("m%d", i+1))
		n := &MariaDBNode{Index: i, Host: o.Bind[i], Port: port, Netns: o.Netns[i], Dir: dir, Socket: dir + "/mysqld.sock", ServerID: i + 1}
		p.Nodes[i] = n
		if err := ownedDir(n.Dir, "mysql", 0o750); err != nil {
			t.Fatal(err)
		}
		// A temporary directory of its own: bootstraps of other test
		// processes (other packages, other sandboxes sharing /tmp) must not
		// see or remove its temporary tables.
		if err := ownedDir(n.Dir+"/tmp", "mysql", 0o750); err != nil {
			t.Fatal(err)
		}
		n.args = []string{"--no-defaults", "--datadir=" + n.Dir + "/data", "--socket=" + n.Socket,
			"--port=" + strconv.Itoa(port), "--bind-address=" + n.Host, "--pid-file=" + n.Dir + "/mariadbd.pid",
			"--log-error=" + n.Dir + "/error.log", "--lc-messages-dir=/usr/share/mysql", "--tmpdir=" + n.Dir + "/tmp",
			"--server-id=" + strconv.Itoa(n.ServerID), "--gtid-domain-id=" + strconv.Itoa(n.ServerID),
			"--log-bin=mysql-bin", "--log-slave-updates", "--binlog-format=ROW", "--gtid-strict-mode=ON",
			"--auto-increment-increment=2", "--auto-increment-offset=" + strconv.Itoa(n.ServerID),
			"--read-only=ON", "--skip-slave-start", "--slave-net-timeout=2", "--skip-name-resolve",
			"--init-file=" + initFile, "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=2",
			"--sync-binlog=0", "--performance-schema=OFF", "--max-connections=50"}
		// One at a time: concurrent bootstraps collide on temporary tables.
		func() {
			_, errs[i] = Run.Run(ctx, runner.Cmd{Path: MariaDBInstall, Args: []string{"--no-defaults", "--user=mysql",
				"--datadir=" + n.Dir + "/data", "--auth-root-authentication-method=normal", "--skip-test-db", "--tmpdir=" + n.Dir + "/tmp"}, Timeout: 120 * time.Second})
		}()
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("mariadb-install-db node %d: %v", i, err)
		}
	}
	for i := range p.Nodes {
		p.Start(t, i)
	}
	p.setupReplication(t)
	p.Exec(t, 0, "CREATE DATABASE IF NOT EXISTS hatest")
	p.WaitSynced(t)
	return p
}

// mariadbInitSQL creates the accounts for each of hosts (MariaDB host
// patterns); it is not binlogged, each server runs it at every start.
func mariadbInitSQL(hosts []string) string {
	var b strings.Builder
	b.WriteString("SET sql_log_bin=0;\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, `CREATE USER IF NOT EXISTS 'admin'@'%[1]s' IDENTIFIED BY 'adminpass';
GRANT ALL ON *.* TO 'admin'@'%[1]s' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'repl'@'%[1]s' IDENTIFIED BY 'replpass';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%[1]s';
CREATE USER IF NOT EXISTS 'ha'@'%[1]s' IDENTIFIED BY 'hapass';
GRANT REPLICA MONITOR, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, BINLOG MONITOR, CONNECTION ADMIN ON *.* TO 'ha'@'%[1]s';
CREATE USER IF NOT EXISTS 'app'@'%[1]s' IDENTIFIED BY 'apppass';
GRANT ALL ON hatest.* TO 'app'@'%[1]s';
`, h)
	}
	return b.String()
}

// DSN is a go-sql-driver DSN for node i as the given account, the way the
// test process reaches it: TCP to Addr, or the unix socket for a server in
// another network namespace.
func (p *MariaDBPair) DSN(i int, account string) string {
	pass := map[string]string{MariaDBAdmin: "adminpass", MariaDBHA: "hapass", MariaDBApp: "apppass"}[account]
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = account, pass, "tcp", p.Nodes[i].Addr(), ""
	if p.Nodes[i].Netns != "" {
		cfg.Net, cfg.Addr = "unix", p.Nodes[i].Socket
	}
	cfg.Timeout = 2 * time.Second
	return cfg.FormatDSN()
}

// DB opens node i as admin; closed in t.Cleanup.
func (p *MariaDBPair) DB(t testing.TB, i int) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", p.DSN(i, MariaDBAdmin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs q as admin on node i.
func (p *MariaDBPair) Exec(t testing.TB, i int, q string, args ...any) {
	t.Helper()
	if err := p.TryExec(i, q, args...); err != nil {
		t.Fatalf("mariadb node %d: %s: %v", i, q, err)
	}
}

// TryExec runs q as admin on node i and returns the error.
func (p *MariaDBPair) TryExec(i int, q string, args ...any) error {
	db, err := sql.Open("mysql", p.DSN(i, MariaDBAdmin))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, q, args...)
	return err
}

// Query returns the first column of the first row as a string ("NULL" for NULL).
func (p *MariaDBPair) Query(t testing.TB, i int, q string, args ...any) string {
	t.Helper()
	db, err := sql.Open("mysql", p.DSN(i, MariaDBAdmin))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var v sql.NullString
	if err := db.QueryRowContext(ctx, q, args...).Scan(&v); err != nil {
		t.Fatalf("mariadb node %d: %s: %v", i, q, err)
	}
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// Start starts node i (again) and waits until it accepts connections.
func (p *MariaDBPair) Start(t testing.TB, i int) {
	t.Helper()
	n := p.Nodes[i]
	proc, err := startDaemonIn(context.Background(), n.Netns, "mysql", n.Dir+"/stdout.log", n.Dir+"/ssd.pid", MariaDBD, n.args...)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	n.proc = proc
	p.mu.Unlock()
	WaitFor(t, fmt.Sprintf("mariadb node %d to accept connections", i), 60*time.Second, func() (bool, string) {
		select {
		case <-proc.exited:
			return false, "server exited: " + tail(n.Dir+"/error.log", 15)
		default:
		}
		err := p.TryExec(i, "SELECT 1")
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// Running reports whether node i's server process runs.
func (p *MariaDBPair) Running(i int) bool {
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

// Kill sends SIGKILL to node i and reaps it.
func (p *MariaDBPair) Kill(t testing.TB, i int) {
	t.Helper()
	if err := p.Nodes[i].proc.Signal(unix.SIGKILL, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Stop shuts node i down cleanly.
func (p *MariaDBPair) Stop(t testing.TB, i int) {
	t.Helper()
	if err := p.Nodes[i].proc.Signal(unix.SIGTERM, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (p *MariaDBPair) setupReplication(t testing.TB) {
	t.Helper()
	for i := range p.Nodes {
		other := p.Nodes[1-i]
		p.Exec(t, i, "STOP SLAVE")
		p.Exec(t, i, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='repl', MASTER_PASSWORD='replpass', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_DELAY=0", other.Host, other.Port))
		p.Exec(t, i, "START SLAVE")
	}
	for i := range p.Nodes {
		WaitFor(t, fmt.Sprintf("mariadb node %d replication threads", i), 30*time.Second, func() (bool, string) {
			io, sqlT := p.slaveField(t, i, "Slave_IO_Running"), p.slaveField(t, i, "Slave_SQL_Running")
			return io == "Yes" && sqlT == "Yes", "IO=" + io + " SQL=" + sqlT + " " + p.slaveField(t, i, "Last_IO_Error")
		})
	}
}

// SlaveStatus returns SHOW SLAVE STATUS of node i by column name.
func (p *MariaDBPair) SlaveStatus(t testing.TB, i int) map[string]string {
	t.Helper()
	db, err := sql.Open("mysql", p.DSN(i, MariaDBAdmin))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SHOW SLAVE STATUS")
	if err != nil {
		t.Fatalf("mariadb node %d: SHOW SLAVE STATUS: %v", i, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]string{}
	if !rows.Next() {
		return out
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for k := range vals {
		ptrs[k] = &vals[k]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for k, c := range cols {
		out[c] = vals[k].String
		if !vals[k].Valid {
			out[c] = "NULL"
		}
	}
	return out
}

func (p *MariaDBPair) slaveField(t testing.TB, i int, col string) string {
	return p.SlaveStatus(t, i)[col]
}

// WaitSynced waits until each node has applied everything of the other's
// own GTID domain.
func (p *MariaDBPair) WaitSynced(t testing.TB) {
	t.Helper()
	for i := range p.Nodes {
		j := 1 - i
		want := p.Query(t, j, "SELECT @@gtid_binlog_pos")
		WaitFor(t, fmt.Sprintf("mariadb node %d to apply node %d's %s", i, j, want), 30*time.Second, func() (bool, string) {
			got := p.Query(t, i, "SELECT MASTER_GTID_WAIT(?, 0)", want)
			return got == "0", fmt.Sprintf("gtid_current_pos %s", p.Query(t, i, "SELECT @@gtid_current_pos"))
		})
	}
}

// Reset brings the pair back to the starting shape: both running, read_only=ON
// on both, replication configured and running both ways, in sync.
func (p *MariaDBPair) Reset(t testing.TB) {
	t.Helper()
	for i := range p.Nodes {
		if !p.Running(i) {
			p.Start(t, i)
		}
		p.Exec(t, i, "SET GLOBAL read_only = ON")
	}
	p.setupReplication(t)
	p.WaitSynced(t)
}

// GroupTOML writes the daemons' credentials file (account ha) into dir and
// returns an xhad [[group]] "db" whose database resource "maria" guards this
// pair: node a's server is node 0, b's is node 1, at their Addr. keys are
// more keys of the resource ("" = max-lag-seconds 10s, catchup-timeout 3s).
func (p *MariaDBPair) GroupTOML(t testing.TB, dir, keys string) string {
	t.Helper()
	if keys == "" {
		keys = "max-lag-seconds = \"10s\"\n  catchup-timeout = \"3s\""
	}
	return groupTOML(t, dir, MariaDBHA+":hapass\n", "maria", "mariadb", [2]string{p.Nodes[0].Addr(), p.Nodes[1].Addr()}, keys)
}

// groupTOML writes the credentials file cred into dir and returns an xhad
// [[group]] "db" with one database resource: name, engine, the servers of
// nodes a and b at addrs, the credentials file, and more keys.
func groupTOML(t testing.TB, dir, cred, name, engine string, addrs [2]string, keys string) string {
	t.Helper()
	path := filepath.Join(dir, "db.cred")
	if err := os.WriteFile(path, []byte(cred), 0o600); err != nil {
		t.Fatalf("dbtest: write the database credentials file: %v", err)
	}
	return fmt.Sprintf(`
[[group]]
name = "db"

  [[group.resource]]
  name = %q
  kind = "database"
  engine = %q
  addresses = { a = %q, b = %q }
  credentials-file = %q
  %s
`, name, engine, addrs[0], addrs[1], path, keys)
}

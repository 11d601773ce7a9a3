package netbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xhad/dbrepl/dbtest"
)

// Engines of Options.Database.
const (
	DatabaseMariaDB    = "mariadb"    // a MariaDB master-master pair (Bed.MariaDB)
	DatabasePostgreSQL = "postgresql" // a PostgreSQL primary on a and streaming standby on b (Bed.Postgres)
)

// DatabasePort is the TCP port of each host's MariaDB server
// (Options.Database = DatabaseMariaDB).
const DatabasePort = 3306

// PostgresPort is the TCP port of each host's PostgreSQL server
// (Options.Database = DatabasePostgreSQL).
const PostgresPort = 5432

// bedDatabase is the bed's database pair, of the engine Options.Database
// names (at most one is set).
type bedDatabase struct {
	engine string
	maria  *dbtest.MariaDBPair
	pg     *dbtest.PGPair
}

// MariaDB returns the bed's MariaDB pair (Options.Database =
// DatabaseMariaDB): node 0 runs in a's namespace on a's dedicated-link
// address, node 1 in b's on b's, both on DatabasePort, replicating from each
// other over dl0. The test process reaches them over their unix sockets
// (pair.Exec, pair.Query). Nil for another engine or none.
func (b *Bed) MariaDB() *dbtest.MariaDBPair { return b.db.maria }

// Postgres returns the bed's PostgreSQL pair (Options.Database =
// DatabasePostgreSQL): node 0, the primary at the start, runs in a's
// namespace on a's dedicated-link address, node 1, a hot standby streaming
// from node 0 over dl0 (role repl), in b's on b's, both on PostgresPort.
// pg_hba.conf admits the roles repl and ha from the link's subnet with
// passwords. The test process reaches the servers over their unix sockets
// (pair.Exec, pair.Query, pair.HADSN). Nil for another engine or none.
func (b *Bed) Postgres() *dbtest.PGPair { return b.db.pg }

// DatabaseAddr is node n's database server as the daemons reach it
// (LinkIP:DatabasePort for MariaDB, LinkIP:PostgresPort for PostgreSQL).
func (b *Bed) DatabaseAddr(n *Node) string {
	port := DatabasePort
	if b.db.engine == DatabasePostgreSQL {
		port = PostgresPort
	}
	return fmt.Sprintf("%s:%d", n.LinkIP, port)
}

// startDatabase starts the database pair of engine o.Database inside the
// hosts' namespaces, writes the daemons' credentials file and returns the
// TOML of group "db" (its database resource takes Options.DatabaseKeys).
// The pair stops when the test ends (before the namespaces go); its logs
// are printed when the test failed.
func (b *Bed) startDatabase(o Options) string {
	t := b.t
	t.Helper()
	switch o.Database {
	case DatabaseMariaDB:
		pair := dbtest.StartMariaDBPairWith(t, dbtest.MariaDBOptions{
			Netns:     [2]string{b.A.NS, b.B.NS},
			Bind:      [2]string{b.A.LinkIP, b.B.LinkIP},
			Port:      DatabasePort,
			GrantHost: fmt.Sprintf("10.240.%d.%%", b.Net), // the dedicated link's subnet
		})
		b.db = bedDatabase{engine: o.Database, maria: pair}
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			for _, n := range pair.Nodes {
				t.Logf("error log of mariadb node %d (%s, %s), last 20 lines:\n%s", n.Index, n.Netns, n.Addr(), tailFile(filepath.Join(n.Dir, "error.log"), 20))
			}
		})
		return pair.GroupTOML(t, b.Dir, o.DatabaseKeys)
	case DatabasePostgreSQL:
		pair := dbtest.StartPGPairWith(t, dbtest.PGOptions{
			Netns:     [2]string{b.A.NS, b.B.NS},
			Bind:      [2]string{b.A.LinkIP, b.B.LinkIP},
			Port:      PostgresPort,
			AuthHosts: []string{fmt.Sprintf("10.240.%d.0/24", b.Net)}, // the dedicated link's subnet
		})
		b.db = bedDatabase{engine: o.Database, pg: pair}
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			for _, n := range pair.Nodes {
				t.Logf("log of postgresql node %d (%s, %s), last 20 lines:\n%s", n.Index, n.Netns, n.Addr(), tailFile(filepath.Join(filepath.Dir(n.DataDir), "server.log"), 20))
			}
		})
		return pair.GroupTOML(t, b.Dir, o.DatabaseKeys)
	}
	t.Fatalf("netbed: Options.Database %q is not a database engine; write %q, %q or leave it empty", o.Database, DatabaseMariaDB, DatabasePostgreSQL)
	return ""
}

func tailFile(path string, n int) string {
	out, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tailLines(strings.TrimRight(string(out), "\n"), n)
}

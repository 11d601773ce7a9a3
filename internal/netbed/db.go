package netbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xhad/dbrepl/dbtest"
)

// DatabasePort is the TCP port of each host's MariaDB server (Options.Database).
const DatabasePort = 3306

// MariaDB returns the bed's MariaDB pair (Options.Database): node 0 runs in
// a's namespace on a's dedicated-link address, node 1 in b's on b's, both on
// DatabasePort, replicating from each other over dl0. The test process
// reaches them over their unix sockets (pair.Exec, pair.Query). Nil without
// Options.Database.
func (b *Bed) MariaDB() *dbtest.MariaDBPair { return b.db }

// DatabaseAddr is node n's database server as the daemons reach it
// (LinkIP:DatabasePort).
func (b *Bed) DatabaseAddr(n *Node) string { return fmt.Sprintf("%s:%d", n.LinkIP, DatabasePort) }

// startDatabase starts the MariaDB pair inside the hosts' namespaces, writes
// the daemons' credentials file and returns the TOML of group "db" (its
// database resource takes Options.DatabaseKeys). The
// pair stops when the test ends (before the namespaces go); its error logs
// are printed when the test failed.
func (b *Bed) startDatabase(o Options) string {
	t := b.t
	t.Helper()
	pair := dbtest.StartMariaDBPairWith(t, dbtest.MariaDBOptions{
		Netns:     [2]string{b.A.NS, b.B.NS},
		Bind:      [2]string{b.A.LinkIP, b.B.LinkIP},
		Port:      DatabasePort,
		GrantHost: fmt.Sprintf("10.240.%d.%%", b.Net), // the dedicated link's subnet
	})
	b.db = pair
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range pair.Nodes {
			t.Logf("error log of mariadb node %d (%s, %s), last 20 lines:\n%s", n.Index, n.Netns, n.Addr(), tailFile(filepath.Join(n.Dir, "error.log"), 20))
		}
	})
	return pair.GroupTOML(t, b.Dir, o.DatabaseKeys)
}

func tailFile(path string, n int) string {
	out, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tailLines(strings.TrimRight(string(out), "\n"), n)
}

package resources_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xhad/dbrepl/dbtest"
	"xhad/dsl"
	"xhad/internal/runner/runnertest"
	"xhad/resources"
)

// TestDatabaseResourceMariaDB drives the `database` kind against a real
// MariaDB master-master pair: a healthy switchover keeps every acknowledged
// row and Stop makes the server read-only again; the gate refuses a delayed
// replica that has not applied the writer's last transaction, and
// `takeover --force` (WithForce) overrides it and says so in the status.
func TestDatabaseResourceMariaDB(t *testing.T) {
	pair := dbtest.StartMariaDBPair(t)
	dir := t.TempDir()
	cred := filepath.Join(dir, "db.cred")
	if err := os.WriteFile(cred, []byte("ha:hapass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := dsl.Resource{Name: "db", Kind: dsl.KindDatabase, StartTimeout: time.Minute, StopTimeout: time.Minute,
		Database: &dsl.DatabaseSpec{Engine: dsl.EngineMariaDB, CredentialsFile: cred, CatchupTimeout: 10 * time.Second,
			MaxLagSeconds: 10 * time.Second, ConnectTimeout: 2 * time.Second,
			Addresses: map[string]string{"a": pair.Nodes[0].Addr(), "b": pair.Nodes[1].Addr()}}}
	node := func(self, peer string) *resources.Database {
		r, err := resources.New(spec, dsl.Tools{}, &runnertest.Fake{})
		if err != nil {
			t.Fatal(err)
		}
		db := r.(*resources.Database)
		db.SetNodes(self, peer)
		return db
	}
	a, b := node("a", "b"), node("b", "a")
	ctx := context.Background()

	if err := a.Start(ctx); err != nil {
		t.Fatalf("promote a: %v", err)
	}
	if st, err := a.Probe(ctx); err != nil || st.State != resources.Running {
		t.Fatalf("a after promotion: %+v %v", st, err)
	}
	pair.Exec(t, 0, "CREATE TABLE IF NOT EXISTS hatest.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	for i := 0; i < 50; i++ {
		pair.Exec(t, 0, "INSERT INTO hatest.t (v) VALUES (?)", i)
	}
	if err := b.Observe(ctx); err != nil {
		t.Fatalf("observe a from b: %v", err)
	}
	// Healthy switchover: a steps down, b passes the gate with every row.
	if err := a.Stop(ctx); err != nil {
		t.Fatalf("stop a: %v", err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatalf("promote b: %v", err)
	}
	if got := pair.Query(t, 1, "SELECT COUNT(*) FROM hatest.t"); got != "50" {
		t.Fatalf("rows on b after the switchover: %s, want 50", got)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("stop b: %v", err)
	}

	// A delayed replica on a: refused with the reason; --force promotes.
	pair.Exec(t, 0, "STOP SLAVE")
	pair.Exec(t, 0, "CHANGE MASTER TO MASTER_DELAY=3600")
	pair.Exec(t, 0, "START SLAVE")
	pair.Exec(t, 1, "SET GLOBAL read_only=OFF")
	pair.Exec(t, 1, "INSERT INTO hatest.t (v) VALUES (999)")
	pair.Exec(t, 1, "SET GLOBAL read_only=ON")
	err := a.Start(ctx)
	if !resources.IsRefusal(err) || !strings.Contains(err.Error(), "replication gate") {
		t.Fatalf("promote of a delayed replica: %v, want a refusal by the gate", err)
	}
	if err := a.Start(resources.WithForce(ctx)); err != nil {
		t.Fatalf("forced promotion: %v", err)
	}
	if st, _ := a.Probe(ctx); !strings.Contains(st.Detail, "FORCED") {
		t.Fatalf("status does not say the gate was forced: %q", st.Detail)
	}
}

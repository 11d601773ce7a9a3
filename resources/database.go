package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"xhad/dbrepl"
	"xhad/dsl"
)

// Database is the promotion of a replicated database on this node (kind
// `database`): Start passes the replication gate (dbrepl.Verdict) and
// promotes; an operator's `takeover --force` (WithForce) overrides the gate,
// and the report says so. Probe reports Running when this node's server is
// the writer (MariaDB read_only=OFF; PostgreSQL not in recovery).
//
// Stop: MariaDB goes read_only=ON. A PostgreSQL primary cannot be demoted in
// place: Stop of a primary fails with the way out (stop the server, run the
// rejoin), so the group goes FAILED rather than pretending; a standby is
// already stopped.
//
// The last position of the old writer (dbrepl.Known) is what this node saw
// of the peer's server while it was reachable: Observe, which the daemon
// calls on the node that does not run the group, records it.
type Database struct {
	base
	self, peer string

	mu    sync.Mutex
	known dbrepl.Known
	last  string // the last gate verdict, for status
	gate  *Gate
}

// Gate is the outcome of the last promotion attempt, for logs and metrics.
type Gate struct {
	Promotable bool     // the gate allowed it (false also when forced past it)
	Forced     bool     // an operator's --force overrode a refusal
	Reasons    []string // the vetoes
	LagBytes   int64    // -1 unknown
	LagSeconds int64    // -1 unknown
	LagTrx     int64    // -1 unknown
}

// LastGate returns the last promotion's gate outcome, or nil before any.
func (d *Database) LastGate() *Gate {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gate == nil {
		return nil
	}
	g := *d.gate
	return &g
}

type forceKey struct{}

// WithForce marks ctx as carrying an operator's `takeover --force`.
func WithForce(ctx context.Context) context.Context { return context.WithValue(ctx, forceKey{}, true) }

func forced(ctx context.Context) bool { v, _ := ctx.Value(forceKey{}).(bool); return v }

func newDatabase(b base) (*Database, error) {
	if b.spec.Database == nil {
		return nil, fmt.Errorf("new resource %s: kind database without its settings", b.spec.Name)
	}
	return &Database{base: b}, nil
}

// SetNodes names this node and its peer: their servers' addresses come from
// the resource's `addresses` table.
func (d *Database) SetNodes(self, peer string) { d.self, d.peer = self, peer }

func (d *Database) dsn(node string) (string, error) {
	spec := d.spec.Database
	addr, ok := spec.Addresses[node]
	if !ok {
		return "", fmt.Errorf("database %s: no address for node %q in its addresses table", d.Name(), node)
	}
	user, pass, err := dbrepl.LoadCredentials(spec.CredentialsFile)
	if err != nil {
		return "", err
	}
	if spec.Engine == dsl.EnginePostgreSQL {
		return dbrepl.PostgresDSN(addr, spec.Database, user, pass, spec.ConnectTimeout), nil
	}
	return dbrepl.MariaDBDSN(addr, spec.Database, user, pass, spec.ConnectTimeout), nil
}

// Start promotes the local server through the gate.
func (d *Database) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.startTimeout())
	defer cancel()
	local, err := d.dsn(d.self)
	if err != nil {
		return err
	}
	if st, err := d.Probe(ctx); err == nil && st.State == Running {
		return nil // already the writer
	}
	d.mu.Lock()
	known := d.known
	d.mu.Unlock()
	limits := dbrepl.LimitsFrom(*d.spec.Database)
	force := forced(ctx)
	var rep dbrepl.Report
	if d.spec.Database.Engine == dsl.EnginePostgreSQL {
		rep, err = dbrepl.PromotePostgres(ctx, local, limits, known, force)
	} else {
		remote, rerr := d.dsn(d.peer)
		if rerr != nil {
			return rerr
		}
		rep, err = dbrepl.PromoteMariaDB(ctx, local, remote, limits, known, force)
	}
	d.record(rep)
	if errors.Is(err, dbrepl.ErrRefused) {
		return d.refuse("start", "replication gate: "+strings.Join(rep.Decision.Reasons, "; "), err)
	}
	if err != nil {
		return fmt.Errorf("promote database %s: %w", d.Name(), err)
	}
	return nil
}

func (d *Database) record(rep dbrepl.Report) {
	verdict := "allowed"
	switch {
	case rep.Forced:
		verdict = "FORCED past: " + strings.Join(rep.Decision.Reasons, "; ")
	case !rep.Decision.Promotable:
		verdict = "refused: " + strings.Join(rep.Decision.Reasons, "; ")
	}
	d.mu.Lock()
	d.gate = &Gate{Promotable: rep.Decision.Promotable, Forced: rep.Forced, Reasons: rep.Decision.Reasons,
		LagBytes: rep.Decision.LagBytes, LagSeconds: rep.Decision.LagSeconds, LagTrx: rep.Decision.LagTrx}
	d.last = fmt.Sprintf("gate %s (lag bytes %d, seconds %d, transactions %d)", verdict, rep.Decision.LagBytes, rep.Decision.LagSeconds, rep.Decision.LagTrx)
	d.mu.Unlock()
}

// Stop makes the local server stop being the writer.
func (d *Database) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.stopTimeout())
	defer cancel()
	st, err := d.Probe(ctx)
	if err != nil {
		return fmt.Errorf("stop database %s: %w", d.Name(), err)
	}
	if st.State == Stopped {
		return nil
	}
	if d.spec.Database.Engine == dsl.EnginePostgreSQL {
		return fmt.Errorf("stop database %s: this PostgreSQL server is a primary and cannot be demoted in place; stop it, rejoin it as a standby of the new primary (pg_rewind + standby.signal, see dbrepl), then run xhad standby again", d.Name())
	}
	local, err := d.dsn(d.self)
	if err != nil {
		return err
	}
	if err := dbrepl.DemoteMariaDB(ctx, local); err != nil {
		return fmt.Errorf("stop database %s: %w", d.Name(), err)
	}
	if st, err := d.Probe(ctx); err != nil || st.State != Stopped {
		return fmt.Errorf("stop database %s: still writable after read_only=ON (%v)", d.Name(), err)
	}
	return nil
}

// Probe tells whether the local server is the writer.
func (d *Database) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	local, err := d.dsn(d.self)
	if err != nil {
		return Status{}, err
	}
	d.mu.Lock()
	last := d.last
	d.mu.Unlock()
	if d.spec.Database.Engine == dsl.EnginePostgreSQL {
		f, err := dbrepl.ProbePostgres(ctx, local)
		if err != nil {
			return Status{State: Unknown}, fmt.Errorf("probe database %s: %w", d.Name(), err)
		}
		if f.InRecovery {
			return Status{State: Stopped, Detail: strings.TrimSpace("standby (in recovery); " + last)}, nil
		}
		return Status{State: Running, Detail: strings.TrimSpace(fmt.Sprintf("primary, timeline %d; %s", f.Timeline, last))}, nil
	}
	f, err := dbrepl.ProbeMariaDB(ctx, local)
	if err != nil {
		return Status{State: Unknown}, fmt.Errorf("probe database %s: %w", d.Name(), err)
	}
	if f.ReadOnly {
		return Status{State: Stopped, Detail: strings.TrimSpace("read_only=ON; " + last)}, nil
	}
	return Status{State: Running, Detail: strings.TrimSpace("writer (read_only=OFF); " + last)}, nil
}

// Observe records the peer's server position while it is reachable: the
// last known position of the writer that a later promotion here is
// measured against. Errors are expected while the peer is down.
func (d *Database) Observe(ctx context.Context) error {
	remote, err := d.dsn(d.peer)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	if d.spec.Database.Engine == dsl.EnginePostgreSQL {
		f, err := dbrepl.ProbePostgres(ctx, remote)
		if err != nil {
			return err
		}
		if !f.InRecovery {
			d.mu.Lock()
			d.known.PrimaryLSN, d.known.PrimaryTimeline = f.CurrentLSN, f.Timeline
			d.mu.Unlock()
		}
		return nil
	}
	f, err := dbrepl.ProbeMariaDB(ctx, remote)
	if err != nil {
		return err
	}
	if !f.ReadOnly {
		d.mu.Lock()
		d.known.WriterGTIDBinlogPos = f.GTIDBinlogPos
		d.mu.Unlock()
	}
	return nil
}

package dbrepl_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xhad/dbrepl"
	"xhad/dbrepl/dbtest"
	"xhad/internal/runner"
)

func probeP(t *testing.T, p *dbtest.PGPair, i int) dbrepl.PGFacts {
	t.Helper()
	f, err := dbrepl.ProbePostgres(ctxT(t, 10*time.Second), p.HADSN(i))
	if err != nil {
		t.Fatalf("probe node %d: %v", i, err)
	}
	return f
}

// TestPostgres runs one story on a real primary + hot standby: paused replay,
// primary killed, promotion, the old primary rejoined (never a second
// primary), then timeline and lag checks on the rejoined standby.
func TestPostgres(t *testing.T) {
	p := dbtest.StartPGPair(t)
	limits := dbrepl.Limits{MaxLagBytes: 1 << 20, CatchupTimeout: 30 * time.Second, ConnectTimeout: time.Second}

	p.Exec(t, 0, "CREATE TABLE t (id serial PRIMARY KEY, v text)")
	p.Exec(t, 0, "INSERT INTO t (v) SELECT 'before pause' FROM generate_series(1, 1000)")
	p.WaitReplayed(t, 1, 0)
	primary := probeP(t, p, 0)
	if primary.InRecovery || primary.Timeline != 1 || primary.CurrentLSN == 0 {
		t.Fatalf("primary facts: %+v", primary)
	}

	t.Run("replay paused, primary killed, promoted", func(t *testing.T) {
		p.Exec(t, 1, "SELECT pg_wal_replay_pause()")
		p.Exec(t, 0, "INSERT INTO t (v) SELECT repeat('x', 100) FROM generate_series(1, 5000)")
		pf := probeP(t, p, 0)
		known := dbrepl.Known{PrimaryLSN: pf.CurrentLSN, PrimaryTimeline: pf.Timeline}
		dbtest.WaitFor(t, "the standby to receive the paused rows", 30*time.Second, func() (bool, string) {
			f := probeP(t, p, 1)
			return f.ReceiveLSN >= known.PrimaryLSN && f.PauseState == "paused",
				fmt.Sprintf("receive %s replay %s pause %q, want %s", f.ReceiveLSN, f.ReplayLSN, f.PauseState, known.PrimaryLSN)
		})
		sf := probeP(t, p, 1)
		if sf.ReplayLSN >= sf.ReceiveLSN {
			t.Fatalf("replay %s caught up with receive %s although paused", sf.ReplayLSN, sf.ReceiveLSN)
		}
		d := dbrepl.Verdict(dbrepl.Facts{Postgres: &sf}, limits, known)
		if !d.Promotable || !has(d.Notes, "WAL replay is paused") || d.LagBytes != 0 {
			t.Fatalf("verdict: %s (lag %d)", d, d.LagBytes)
		}
		// A primary position the standby never received is refused.
		ahead := known
		ahead.PrimaryLSN += 2 << 20
		if _, err := dbrepl.PromotePostgres(ctxT(t, 30*time.Second), p.HADSN(1), limits, ahead, false); !errors.Is(err, dbrepl.ErrRefused) ||
			!strings.Contains(err.Error(), "bytes behind the last known primary position") {
			t.Fatalf("promote with a primary 2 MiB ahead: %v, want a refusal", err)
		}
		if probeP(t, p, 1).InRecovery != true {
			t.Fatal("a refused promotion left recovery")
		}

		p.Kill(t, 0)
		dbtest.WaitFor(t, "the standby's receiver to stop", 30*time.Second, func() (bool, string) {
			f := probeP(t, p, 1)
			if f.Receiver == nil {
				return true, ""
			}
			return f.Receiver.Status != "streaming", f.Receiver.Status
		})
		rep, err := dbrepl.PromotePostgres(ctxT(t, 60*time.Second), p.HADSN(1), limits, known, false)
		if err != nil {
			t.Fatalf("promote: %v", err)
		}
		if rep.Forced || !has(rep.Steps, "pg_wal_replay_resume()") || rep.Timeline != 2 {
			t.Fatalf("report: %+v", rep)
		}
		if got := p.Query(t, 1, "SELECT count(*)::text FROM t"); got != "6000" {
			t.Fatalf("new primary has %s of 6000 acknowledged rows", got)
		}
		p.Exec(t, 1, "INSERT INTO t (v) VALUES ('after promotion')")
	})

	t.Run("old primary restarted is never a second primary", func(t *testing.T) {
		if p.Running(0) || probeP(t, p, 1).InRecovery {
			t.Skip("needs the promotion of the previous case")
		}
		ctx := ctxT(t, 120*time.Second)
		opts := dbrepl.RejoinOptions{DataDir: p.Nodes[0].DataDir, SourceServer: p.Conninfo(1), PrimaryConninfo: p.Conninfo(1)}
		rep, err := dbrepl.Rejoin(ctx, runner.Exec{}, opts)
		if err != nil {
			t.Fatalf("rejoin: %v (%v)", err, rep.Steps)
		}
		if !rep.Rewound {
			t.Fatalf("rejoin did not rewind: %v", rep.Steps)
		}
		p.Start(t, 0)
		if got := p.Query(t, 0, "SELECT pg_is_in_recovery()::text"); got != "true" {
			t.Fatalf("old primary restarted with pg_is_in_recovery = %s", got)
		}
		if err := p.TryExec(0, "INSERT INTO t (v) VALUES ('second primary?')"); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("write on the old primary: %v, want a read-only error", err)
		}
		p.WaitStreaming(t, 0)
		p.Exec(t, 1, "INSERT INTO t (v) VALUES ('streamed to the old primary')")
		p.WaitReplayed(t, 0, 1)
		if a, b := p.Query(t, 0, "SELECT count(*)::text FROM t"), p.Query(t, 1, "SELECT count(*)::text FROM t"); a != b || a != "6002" {
			t.Fatalf("rows: old primary %s, new primary %s, want 6002 on both", a, b)
		}
		if _, err := dbrepl.Rejoin(ctx, runner.Exec{}, opts); !errors.Is(err, dbrepl.ErrServerRunning) {
			t.Fatalf("rejoin of a running server: %v, want ErrServerRunning", err)
		}
		if err := dbrepl.Guard(opts.DataDir); !errors.Is(err, dbrepl.ErrServerRunning) {
			t.Fatalf("guard of a running server: %v, want ErrServerRunning", err)
		}
	})

	t.Run("standby on another timeline; lag forced", func(t *testing.T) {
		if !p.Running(0) || !probeP(t, p, 0).InRecovery {
			t.Skip("needs the rejoined standby of the previous case")
		}
		newPrimary := probeP(t, p, 1)
		sf := probeP(t, p, 0)
		if sf.Timeline != 2 || sf.Receiver == nil {
			t.Fatalf("rejoined standby facts: %+v", sf)
		}
		old := dbrepl.Known{PrimaryLSN: newPrimary.CurrentLSN, PrimaryTimeline: 1}
		d := dbrepl.Verdict(dbrepl.Facts{Postgres: &sf}, limits, old)
		if d.Promotable || !has(d.Reasons, "on timeline 2 but the last known primary was on timeline 1") {
			t.Fatalf("verdict against timeline 1: %s", d)
		}
		p.WaitReplayed(t, 0, 1)
		sf = probeP(t, p, 0)
		cur := dbrepl.Known{PrimaryLSN: newPrimary.CurrentLSN, PrimaryTimeline: newPrimary.Timeline}
		if d := dbrepl.Verdict(dbrepl.Facts{Postgres: &sf}, limits, cur); !d.Promotable {
			t.Fatalf("verdict against the current primary: %s", d)
		}
		ahead := cur
		ahead.PrimaryLSN += 4 << 20
		rep, err := dbrepl.PromotePostgres(ctxT(t, 60*time.Second), p.HADSN(0), limits, ahead, true)
		if err != nil {
			t.Fatalf("forced promote: %v", err)
		}
		if !rep.Forced || !has(rep.Steps, "overridden by --force") || rep.Decision.LagBytes < 4<<20 {
			t.Fatalf("report does not say it was forced: %+v", rep)
		}
		if got := p.Query(t, 0, "SELECT pg_is_in_recovery()::text"); got != "false" {
			t.Fatalf("forced promotion left recovery = %s", got)
		}
	})
}

// TestPostgresGuard: without pg_rewind, Guard (standby.signal) alone keeps a
// restarted old primary read-only; without it the old primary comes back as
// a second primary (the hazard, shown so this test can fail).
func TestPostgresGuard(t *testing.T) {
	p := dbtest.StartPGPair(t)
	p.Exec(t, 0, "CREATE TABLE g (id serial PRIMARY KEY)")
	p.Exec(t, 0, "INSERT INTO g DEFAULT VALUES")
	p.WaitReplayed(t, 1, 0)
	pf := probeP(t, p, 0)
	p.Kill(t, 0)
	known := dbrepl.Known{PrimaryLSN: pf.CurrentLSN, PrimaryTimeline: pf.Timeline}
	if _, err := dbrepl.PromotePostgres(ctxT(t, 60*time.Second), p.HADSN(1), dbrepl.Limits{}, known, false); err != nil {
		t.Fatalf("promote: %v", err)
	}
	p.Exec(t, 1, "INSERT INTO g DEFAULT VALUES")

	if err := dbrepl.Guard(p.Nodes[0].DataDir); err != nil {
		t.Fatalf("guard: %v", err)
	}
	p.Start(t, 0)
	if got := p.Query(t, 0, "SELECT pg_is_in_recovery()::text"); got != "true" {
		t.Fatalf("guarded old primary: pg_is_in_recovery = %s", got)
	}
	if err := p.TryExec(0, "INSERT INTO g DEFAULT VALUES"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("write on the guarded old primary: %v, want a read-only error", err)
	}
	f := probeP(t, p, 0)
	if d := dbrepl.Verdict(dbrepl.Facts{Postgres: &f}, dbrepl.Limits{}, dbrepl.Known{PrimaryTimeline: 2, PrimaryLSN: probeP(t, p, 1).CurrentLSN}); d.Promotable {
		t.Fatalf("the diverged old primary passes the gate: %s", d)
	} else {
		t.Logf("gate on the diverged old primary: %s", d)
	}

	// The hazard: the same data directory without standby.signal.
	p.Stop(t, 0)
	if err := os.Remove(filepath.Join(p.Nodes[0].DataDir, "standby.signal")); err != nil {
		t.Fatal(err)
	}
	p.Start(t, 0)
	if got := p.Query(t, 0, "SELECT pg_is_in_recovery()::text"); got != "false" {
		t.Fatalf("unguarded old primary: pg_is_in_recovery = %s; the hazard this guard exists for did not show", got)
	}
}

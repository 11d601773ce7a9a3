package dbrepl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xhad/internal/runner/runnertest"
)

// An address that refuses connections at once: the CHECKPOINT is skipped and
// recorded, the rest of Rejoin goes on.
const deadSource = "host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=1"

func rejoinDir(t *testing.T) string {
	dir := t.TempDir()
	auto := "# Do not edit\nprimary_conninfo = 'host=old port=5432'\nprimary_slot_name = 'n2'\nwork_mem = '8MB'\n"
	if err := os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte(auto), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRejoinRewinds(t *testing.T) {
	dir := rejoinDir(t)
	f := &runnertest.Fake{}
	rewind := fmt.Sprintf("runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_rewind -D %s --source-server=%s", dir, deadSource)
	f.On(rewind, runnertest.Answer{Stdout: "pg_rewind: Done!"})
	rep, err := Rejoin(context.Background(), f, RejoinOptions{DataDir: dir, RunAs: "postgres", SourceServer: deadSource, PrimaryConninfo: "host=new port=5433 user=repl"})
	if err != nil || !rep.Rewound {
		t.Fatalf("rejoin: %v %+v", err, rep)
	}
	if calls := f.Calls(); len(calls) != 1 || calls[0] != rewind {
		t.Fatalf("calls %q, want [%q]", calls, rewind)
	}
	auto, _ := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	if want := "# Do not edit\nwork_mem = '8MB'\nprimary_conninfo = 'host=new port=5433 user=repl'\n"; string(auto) != want {
		t.Fatalf("postgresql.auto.conf:\n%s\nwant:\n%s", auto, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "standby.signal")); err != nil {
		t.Fatalf("standby.signal: %v", err)
	}
	if !strings.Contains(strings.Join(rep.Steps, "\n"), "CHECKPOINT on the new primary skipped") {
		t.Fatalf("steps do not say the checkpoint was skipped: %q", rep.Steps)
	}
}

func TestRejoinRewindFails(t *testing.T) {
	dir := rejoinDir(t)
	f := &runnertest.Fake{}
	f.On("runuser *", runnertest.Answer{Code: 1, Stderr: "pg_rewind: error: could not find previous WAL record at 0/2000100"})
	rep, err := Rejoin(context.Background(), f, RejoinOptions{DataDir: dir, SourceServer: deadSource, PrimaryConninfo: "host=new"})
	if err == nil || !strings.Contains(err.Error(), "pg_basebackup -R") || rep.Rewound {
		t.Fatalf("rejoin: %v %+v", err, rep)
	}
	if _, err := os.Stat(filepath.Join(dir, "standby.signal")); err != nil {
		t.Fatalf("standby.signal not written after a failed rewind: %v", err)
	}
	if !strings.Contains(strings.Join(rep.Steps, "\n"), "could not find previous WAL record") {
		t.Fatalf("steps lack pg_rewind's error: %q", rep.Steps)
	}
}

func TestRejoinRefusesRunningServer(t *testing.T) {
	dir := rejoinDir(t)
	// This test process stands in for a live postmaster.
	pidFile := fmt.Sprintf("%d\n%s\n", os.Getpid(), dir)
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &runnertest.Fake{}
	_, err := Rejoin(context.Background(), f, RejoinOptions{DataDir: dir, SourceServer: deadSource})
	if !errors.Is(err, ErrServerRunning) || len(f.Calls()) != 0 {
		t.Fatalf("rejoin of a running server: %v, calls %q", err, f.Calls())
	}
	if err := Guard(dir); !errors.Is(err, ErrServerRunning) {
		t.Fatalf("guard of a running server: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "standby.signal")); !os.IsNotExist(err) {
		t.Fatalf("standby.signal written for a running server: %v", err)
	}
	// A stale pid file (no such process) does not block.
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Guard(dir); err != nil {
		t.Fatalf("guard with a stale pid file: %v", err)
	}
}

func TestPostgresConninfo(t *testing.T) {
	got := PostgresConninfo("10.0.1.12:5433", "postgres", "rewind", `it's\x`)
	want := `host='10.0.1.12' port='5433' user='rewind' dbname='postgres' password='it\'s\\x'`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDSNs(t *testing.T) {
	if got := MariaDBDSN("10.0.1.11:3306", "", "ha", "p@ss:w/rd", 0); !strings.HasPrefix(got, "ha:p@ss:w/rd@tcp(10.0.1.11:3306)/") || !strings.Contains(got, "timeout=2s") {
		t.Fatalf("mariadb dsn %s", got)
	}
	got := PostgresDSN("10.0.1.12:5432", "postgres", "ha", "p@ss w", 1500*time.Millisecond)
	if got != "postgres://ha:p%40ss%20w@10.0.1.12:5432/postgres?connect_timeout=2&sslmode=prefer" {
		t.Fatalf("postgres dsn %s", got)
	}
}

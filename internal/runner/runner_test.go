package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"xhad/internal/runner"
	"xhad/internal/runner/runnertest"
)

func TestExecCapturesOutputAndExitCode(t *testing.T) {
	var r runner.Exec
	res, err := r.Run(context.Background(), runner.Cmd{Path: "sh", Args: []string{"-c", "echo out; echo err >&2; exit 17"}})
	if runner.ExitCode(err) != 17 {
		t.Fatalf("exit code: got %d (err %v), want 17", runner.ExitCode(err), err)
	}
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("output: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	if !strings.Contains(err.Error(), "exit code 17: err") {
		t.Fatalf("error text does not name code and stderr: %v", err)
	}
}

func TestExecArgvIsNotAShell(t *testing.T) {
	var r runner.Exec
	res, err := r.Run(context.Background(), runner.Cmd{Path: "echo", Args: []string{"$HOME", "; rm -rf /", "`id`"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "$HOME ; rm -rf / `id`\n" {
		t.Fatalf("arguments were interpreted: %q", got)
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	var r runner.Exec
	start := time.Now()
	_, err := r.Run(context.Background(), runner.Cmd{Path: "sh", Args: []string{"-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, runner.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	// Not a timing assertion on speed: only that the 30 s children did not hold us.
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("run returned after %s: children kept it alive", d)
	}
}

func TestExecMissingProgram(t *testing.T) {
	var r runner.Exec
	_, err := r.Run(context.Background(), runner.Cmd{Path: "/nonexistent/xl"})
	if err == nil || runner.ExitCode(err) != -1 {
		t.Fatalf("want start error with code -1, got %v", err)
	}
}

func TestExecEnvAndStdin(t *testing.T) {
	var r runner.Exec
	res, err := r.Run(context.Background(), runner.Cmd{Path: "sh", Args: []string{"-c", "printf %s \"$DRBD_RESOURCE\"; cat"},
		Env: []string{"DRBD_RESOURCE=r0"}, Stdin: []byte("-in")})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "r0-in" {
		t.Fatalf("got %q", res.Stdout)
	}
}

func TestFakeRulesAndRecording(t *testing.T) {
	var f runnertest.Fake
	f.On("drbdadm primary r0", runnertest.Answer{Code: 17, Stderr: "r0: State change failed: (-2) Need access to UpToDate data"}, runnertest.Answer{})
	f.On("xl list *", runnertest.Answer{Stdout: "x"})
	ctx := context.Background()
	if _, err := f.Run(ctx, runner.Cmd{Path: "drbdadm", Args: []string{"primary", "r0"}}); runner.ExitCode(err) != 17 {
		t.Fatalf("first answer: %v", err)
	}
	if _, err := f.Run(ctx, runner.Cmd{Path: "drbdadm", Args: []string{"primary", "r0"}}); err != nil {
		t.Fatalf("second answer: %v", err)
	}
	if res, err := f.Run(ctx, runner.Cmd{Path: "xl", Args: []string{"list", "web"}}); err != nil || string(res.Stdout) != "x" {
		t.Fatalf("prefix rule: %q %v", res.Stdout, err)
	}
	if _, err := f.Run(ctx, runner.Cmd{Path: "vgchange", Args: []string{"-ay", "vg0"}}); runner.ExitCode(err) != 127 {
		t.Fatalf("unmatched: %v", err)
	}
	want := []string{"drbdadm primary r0", "drbdadm primary r0", "xl list web", "vgchange -ay vg0"}
	if got := f.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("calls: %q", got)
	}
}

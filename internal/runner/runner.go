package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds a command that was given no timeout of its own.
const DefaultTimeout = 60 * time.Second

// Cmd is one program invocation.
type Cmd struct {
	// Path is the program: an absolute path, or a name looked up in PATH.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env, when not nil, is added to the daemon's environment (KEY=VALUE).
	Env []string
	// Stdin, when not nil, is written to the program's standard input.
	Stdin []byte
	// Dir is the working directory; empty means the daemon's.
	Dir string
	// Timeout bounds the run; zero means DefaultTimeout.
	Timeout time.Duration
}

// String renders the command line for logs and error messages. Arguments with
// spaces are quoted so the line reads unambiguously; it is never run by a shell.
func (c Cmd) String() string {
	parts := make([]string, 0, len(c.Args)+1)
	for _, a := range append([]string{c.Path}, c.Args...) {
		if a == "" || strings.ContainsAny(a, " \t\n'\"") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Result is what a finished program left behind.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
}

// ExitError reports a program that ran and exited non-zero, or was killed.
type ExitError struct {
	Cmd    string
	Code   int    // exit code; 128+N when killed by signal N (as a shell reports it)
	Stderr string // trimmed standard error, for the log
	Stdout string // trimmed standard output
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(e.Stdout)
	}
	if msg == "" {
		return fmt.Sprintf("%s: exit code %d", e.Cmd, e.Code)
	}
	return fmt.Sprintf("%s: exit code %d: %s", e.Cmd, e.Code, firstLines(msg, 4))
}

// ErrTimeout is wrapped by the error of a command that overran its deadline.
var ErrTimeout = errors.New("timed out")

// ExitCode returns the exit code carried by err, or -1 when err is not an
// *ExitError (the program did not start, or timed out).
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// Runner runs programs.
type Runner interface {
	Run(ctx context.Context, cmd Cmd) (Result, error)
}

// Exec runs real programs with os/exec.
type Exec struct{}

// Run starts cmd and waits for it. The program and its children get SIGKILL
// when the deadline passes (it runs in its own process group).
func (Exec) Run(ctx context.Context, cmd Cmd) (Result, error) {
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := exec.CommandContext(ctx, cmd.Path, cmd.Args...)
	c.Dir = cmd.Dir
	if cmd.Env != nil {
		c.Env = append(os.Environ(), cmd.Env...)
	}
	if cmd.Stdin != nil {
		c.Stdin = bytes.NewReader(cmd.Stdin)
	}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 2 * time.Second

	start := time.Now()
	err := c.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start)}
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		res.ExitCode = -1
		return res, fmt.Errorf("%s: %w after %s", cmd, ErrTimeout, timeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		res.ExitCode = code
		return res, &ExitError{Cmd: cmd.String(), Code: code,
			Stderr: strings.TrimSpace(stderr.String()), Stdout: strings.TrimSpace(stdout.String())}
	}
	res.ExitCode = -1
	return res, fmt.Errorf("run %s: %w", cmd, err)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " | ")
}

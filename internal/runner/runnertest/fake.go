// Package runnertest provides a fake runner.Runner for adapter tests: it
// records every command line and answers from a table of rules.
package runnertest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"xhad/internal/runner"
)

// Answer is what the fake returns for a matching command.
type Answer struct {
	Stdout string
	Stderr string
	Code   int   // non-zero gives an *runner.ExitError
	Err    error // returned as is (for example a wrapped runner.ErrTimeout)
}

// Fake records calls and answers them from rules. A rule matches a command
// line (program and arguments joined by single spaces) exactly, or by prefix
// when its key ends in " *". The last matching rule added wins, so a test can
// override an earlier answer. An unmatched command fails the call with exit
// code 127, as a shell would for a missing program.
type Fake struct {
	mu    sync.Mutex
	rules []rule
	calls []runner.Cmd
	// OnRun, when set, is called for every command before the answer is chosen;
	// a test can use it to change rules as state changes.
	OnRun func(line string)
}

type rule struct {
	key     string
	answers []Answer // consumed in order; the last one repeats
}

// On answers cmd (e.g. "drbdadm primary r0", or "xl list *") with a.
// Several answers are given in turn; the last one repeats.
func (f *Fake) On(cmd string, a ...Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(a) == 0 {
		a = []Answer{{}}
	}
	f.rules = append(f.rules, rule{key: cmd, answers: a})
}

// Run implements runner.Runner.
func (f *Fake) Run(ctx context.Context, cmd runner.Cmd) (runner.Result, error) {
	line := Line(cmd)
	if f.OnRun != nil {
		f.OnRun(line)
	}
	f.mu.Lock()
	f.calls = append(f.calls, cmd)
	var ans *Answer
	for i := len(f.rules) - 1; i >= 0; i-- {
		r := &f.rules[i]
		if r.key == line || (strings.HasSuffix(r.key, " *") && strings.HasPrefix(line+" ", strings.TrimSuffix(r.key, "*"))) {
			a := r.answers[0]
			if len(r.answers) > 1 {
				r.answers = r.answers[1:]
			}
			ans = &a
			break
		}
	}
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return runner.Result{ExitCode: -1}, fmt.Errorf("%s: %w", line, err)
	}
	if ans == nil {
		return runner.Result{ExitCode: 127}, &runner.ExitError{Cmd: line, Code: 127, Stderr: "runnertest: no answer for " + line}
	}
	res := runner.Result{Stdout: []byte(ans.Stdout), Stderr: []byte(ans.Stderr), ExitCode: ans.Code}
	if ans.Err != nil {
		return res, ans.Err
	}
	if ans.Code != 0 {
		return res, &runner.ExitError{Cmd: line, Code: ans.Code, Stderr: strings.TrimSpace(ans.Stderr), Stdout: strings.TrimSpace(ans.Stdout)}
	}
	return res, nil
}

// Calls returns the command lines run so far, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = Line(c)
	}
	return out
}

// Cmds returns the commands run so far, with environment and timeout.
func (f *Fake) Cmds() []runner.Cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runner.Cmd(nil), f.calls...)
}

// Line joins a command's program and arguments with single spaces.
func Line(c runner.Cmd) string {
	return strings.TrimSpace(c.Path + " " + strings.Join(c.Args, " "))
}

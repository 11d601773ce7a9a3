package resources

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"xhad/dsl"
	"xhad/internal/runner"
	"xhad/internal/runner/runnertest"
)

// rule is one runnertest.Fake rule of a table test.
type rule struct {
	cmd     string
	answers []runnertest.Answer
}

func on(cmd string, answers ...runnertest.Answer) rule { return rule{cmd: cmd, answers: answers} }

func ok(stdout string) runnertest.Answer { return runnertest.Answer{Stdout: stdout} }

func fail(code int, stderr string) runnertest.Answer {
	return runnertest.Answer{Code: code, Stderr: stderr}
}

func newFake(rules []rule) *runnertest.Fake {
	f := &runnertest.Fake{}
	for _, r := range rules {
		f.On(r.cmd, r.answers...)
	}
	return f
}

func mustNew(t *testing.T, spec dsl.Resource, tools dsl.Tools, r runner.Runner) Resource {
	t.Helper()
	res, err := New(spec, tools, r)
	if err != nil {
		t.Fatalf("New(%+v): %v", spec, err)
	}
	return res
}

// outcome is what a table test expects from Start or Stop.
type outcome struct {
	refusal bool     // a *Refusal
	errHas  []string // error must contain each; empty with !refusal means nil error
	is      error    // errors.Is target, optional
}

func (o outcome) check(t *testing.T, err error, calls []string) {
	t.Helper()
	wantErr := o.refusal || len(o.errHas) > 0 || o.is != nil
	if !wantErr {
		if err != nil {
			t.Fatalf("want success, got %v (calls %q)", err, calls)
		}
		return
	}
	if err == nil {
		t.Fatalf("want an error, got nil (calls %q)", calls)
	}
	if got := IsRefusal(err); got != o.refusal {
		t.Fatalf("IsRefusal = %v, want %v: %v", got, o.refusal, err)
	}
	for _, s := range o.errHas {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
	if o.is != nil && !errors.Is(err, o.is) {
		t.Fatalf("error %q does not wrap %v", err, o.is)
	}
}

func sameCalls(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls\n got %q\nwant %q", got, want)
	}
}

// checkTimeouts asserts that every command carried a deadline no longer than limit.
func checkTimeouts(t *testing.T, f *runnertest.Fake, limit time.Duration) {
	t.Helper()
	for _, c := range f.Cmds() {
		if c.Timeout <= 0 || c.Timeout > limit {
			t.Fatalf("%s ran with timeout %v, want (0, %v]", runnertest.Line(c), c.Timeout, limit)
		}
	}
}

func errorsIsCanceled(err error) bool { return errors.Is(err, context.Canceled) }

package resources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"xhad/dsl"
	"xhad/internal/runner"
)

// Timeouts used when a resource's spec leaves them at zero.
const (
	DefaultStartTimeout = 120 * time.Second
	DefaultStopTimeout  = 120 * time.Second
	// ProbeTimeout bounds one Probe; the caller's context may bound it further.
	ProbeTimeout = 30 * time.Second
)

// State is what a probe saw.
type State int

const (
	Unknown State = iota // could not tell
	Stopped              // verified not running here
	Running              // running here
	Failed               // present but broken (crashed domain, half-active VG, failed agent…)
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Stopped:
		return "stopped"
	case Running:
		return "running"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Status is the result of a probe.
type Status struct {
	State State
	// Detail is a short human-readable description, for example
	// "Primary UpToDate/UpToDate Connected" or "running (r-----, id 5)".
	Detail string
}

// Resource is one protected thing.
type Resource interface {
	Name() string
	Kind() dsl.Kind
	// Exclusive reports whether the resource may run on one node only;
	// the scheduler never stops a resource that is not exclusive.
	Exclusive() bool
	// Start makes the resource run here. Starting a running resource succeeds.
	Start(ctx context.Context) error
	// Stop makes the resource stop here. It returns nil only when it verified
	// that the resource is stopped; stopping a stopped resource succeeds.
	Stop(ctx context.Context) error
	// Probe reports the resource's state. An error means the state could not
	// be read at all.
	Probe(ctx context.Context) (Status, error)
}

// ErrNotBuilt is wrapped by the error New returns for kinds this package does
// not implement yet.
var ErrNotBuilt = errors.New("not built yet")

// Refusal reports an operation that was not carried out because it would not
// be safe: a DRBD disk that is not UpToDate, a peer that is Primary, fencing
// that failed. It is distinct from an operational failure (a command that
// could not run, timed out or failed for another reason).
type Refusal struct {
	Resource string // xhad resource name
	Op       string // "start", "stop"
	Reason   string // why it is not safe, e.g. "local disk is Outdated"
	Err      error  // the evidence (a command's error), may be nil
}

func (r *Refusal) Error() string {
	msg := fmt.Sprintf("refusing to %s %s: %s", r.Op, r.Resource, r.Reason)
	if r.Err != nil {
		msg += ": " + r.Err.Error()
	}
	return msg
}

func (r *Refusal) Unwrap() error { return r.Err }

// IsRefusal reports whether err is or wraps a *Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// New builds the Resource described by spec. Tools give the program paths; an
// empty path falls back to the bare program name, looked up in PATH when run.
func New(spec dsl.Resource, tools dsl.Tools, r runner.Runner) (Resource, error) {
	if spec.Name == "" {
		return nil, errors.New("new resource: empty name")
	}
	if r == nil {
		return nil, fmt.Errorf("new resource %s: nil runner", spec.Name)
	}
	b := base{spec: spec, run: r}
	switch spec.Kind {
	case dsl.KindDRBD:
		if spec.DRBD == nil || spec.DRBD.Resource == "" {
			return nil, fmt.Errorf("new drbd resource %s: no DRBD resource name", spec.Name)
		}
		return &DRBD{base: b, drbdadm: orDefault(tools.Drbdadm, "drbdadm")}, nil
	case dsl.KindLVM:
		if spec.LVM == nil || spec.LVM.VolumeGroup == "" {
			return nil, fmt.Errorf("new lvm resource %s: no volume group", spec.Name)
		}
		return &LVM{base: b, vgchange: orDefault(tools.Vgchange, "vgchange"), vgs: orDefault(tools.Vgs, "vgs")}, nil
	case dsl.KindXen:
		if spec.Xen == nil || spec.Xen.Domain == "" {
			return nil, fmt.Errorf("new xen resource %s: no domain name", spec.Name)
		}
		if spec.Xen.Config == "" {
			return nil, fmt.Errorf("new xen resource %s: no config file for domain %s", spec.Name, spec.Xen.Domain)
		}
		return &Xen{base: b, xl: orDefault(tools.XL, "xl"), PollInterval: DefaultPollInterval}, nil
	case dsl.KindExec:
		return newExec(b)
	case dsl.KindIP:
		return newIP(b)
	case dsl.KindSystemd:
		return newSystemd(b)
	case dsl.KindDatabase:
		return newDatabase(b)
	}
	return nil, fmt.Errorf("new resource %s: unknown kind %q", spec.Name, spec.Kind)
}

func orDefault(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

// base carries what every adapter needs.
type base struct {
	spec dsl.Resource
	run  runner.Runner
}

func (b *base) Name() string    { return b.spec.Name }
func (b *base) Kind() dsl.Kind  { return b.spec.Kind }
func (b *base) Exclusive() bool { return b.spec.Exclusive() }

func (b *base) startTimeout() time.Duration {
	if b.spec.StartTimeout > 0 {
		return b.spec.StartTimeout
	}
	return DefaultStartTimeout
}

func (b *base) stopTimeout() time.Duration {
	if b.spec.StopTimeout > 0 {
		return b.spec.StopTimeout
	}
	return DefaultStopTimeout
}

// exec runs one program, bounded by ctx's deadline.
func (b *base) exec(ctx context.Context, path string, args ...string) (runner.Result, error) {
	return b.execEnv(ctx, nil, path, args...)
}

func (b *base) execEnv(ctx context.Context, env []string, path string, args ...string) (runner.Result, error) {
	cmd := runner.Cmd{Path: path, Args: args, Env: env}
	if err := ctxDone(ctx); err != nil {
		return runner.Result{ExitCode: -1}, fmt.Errorf("%s: %w", cmd, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		cmd.Timeout = time.Until(deadline)
	}
	return b.run.Run(ctx, cmd)
}

// ctxDone returns the context's error, counting a deadline that has passed
// as DeadlineExceeded even before the context's own timer has fired.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (b *base) refuse(op, reason string, cause error) *Refusal {
	return &Refusal{Resource: b.spec.Name, Op: op, Reason: reason, Err: cause}
}

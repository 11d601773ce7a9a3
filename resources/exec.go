package resources

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"xhad/internal/runner"
)

// DefaultOCFRoot is OCF_ROOT when the spec sets none.
const DefaultOCFRoot = "/usr/lib/ocf"

func newExec(b base) (Resource, error) {
	spec := b.spec.Exec
	if spec == nil || (spec.Script == "") == (spec.Agent == "") {
		return nil, fmt.Errorf("new exec resource %s: set exactly one of script and agent", b.spec.Name)
	}
	if spec.Script != "" {
		return &LSB{base: b}, nil
	}
	parts := strings.Split(spec.Agent, ":")
	if len(parts) != 3 || parts[0] != "ocf" || !ocfName.MatchString(parts[1]) || !ocfName.MatchString(parts[2]) {
		return nil, fmt.Errorf("new exec resource %s: agent %q is not ocf:PROVIDER:TYPE", b.spec.Name, spec.Agent)
	}
	for name := range spec.Params {
		if !ocfParam.MatchString(name) {
			return nil, fmt.Errorf("new exec resource %s: OCF parameter name %q is not [A-Za-z0-9_]+", b.spec.Name, name)
		}
	}
	root := orDefault(spec.OCFRoot, DefaultOCFRoot)
	return &OCF{base: b, provider: parts[1], agentType: parts[2], root: root,
		path: filepath.Join(root, "resource.d", parts[1], parts[2])}, nil
}

var (
	ocfName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]*$`)
	ocfParam = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// LSB drives an init-style script: `SCRIPT start|stop|status`. Start and stop
// succeed on exit 0 (LSB requires both to be idempotent). Status exit 0 is
// Running, 3 Stopped, anything else Failed. Stop runs `stop` and then
// verifies with `status`, which must exit 3.
type LSB struct {
	base
}

var lsbStatusMeaning = map[int]string{
	1: "program is dead and a pid file exists",
	2: "program is dead and a lock file exists",
	4: "status is unknown",
}

func (l *LSB) script() string { return l.spec.Exec.Script }

// Start runs `SCRIPT start`.
func (l *LSB) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.startTimeout())
	defer cancel()
	if _, err := l.exec(ctx, l.script(), "start"); err != nil {
		return fmt.Errorf("start exec %s: %w", l.Name(), err)
	}
	return nil
}

// Stop runs `SCRIPT stop` and verifies with `SCRIPT status`.
func (l *LSB) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.stopTimeout())
	defer cancel()
	what := fmt.Sprintf("stop exec %s", l.Name())
	_, stopErr := l.exec(ctx, l.script(), "stop")
	if ctxDone(ctx) != nil {
		return fmt.Errorf("%s: %w", what, stopErr)
	}
	st, err := l.probe(ctx)
	switch {
	case err != nil && stopErr != nil:
		return fmt.Errorf("%s: %w; and status failed: %w", what, stopErr, err)
	case err != nil:
		return fmt.Errorf("%s: cannot verify: %w", what, err)
	case st.State == Stopped:
		return nil
	case stopErr != nil:
		return fmt.Errorf("%s: %w (status: %s)", what, stopErr, st.Detail)
	}
	return fmt.Errorf("%s: stop exited 0 but status says %s", what, st.Detail)
}

// Probe runs `SCRIPT status`.
func (l *LSB) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	st, err := l.probe(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("probe exec %s: %w", l.Name(), err)
	}
	return st, nil
}

func (l *LSB) probe(ctx context.Context) (Status, error) {
	_, err := l.exec(ctx, l.script(), "status")
	code := runner.ExitCode(err)
	switch {
	case err == nil:
		return Status{State: Running, Detail: "status exit 0: running"}, nil
	case code == 3:
		return Status{State: Stopped, Detail: "status exit 3: not running"}, nil
	case code > 0:
		meaning := lsbStatusMeaning[code]
		if meaning == "" {
			meaning = "failed"
		}
		return Status{State: Failed, Detail: fmt.Sprintf("status exit %d: %s", code, meaning)}, nil
	}
	return Status{}, err // did not run, or timed out
}

// OCF drives an OCF resource agent, OCF_ROOT/resource.d/PROVIDER/TYPE
// start|stop|monitor, with OCF_ROOT, OCF_RESOURCE_INSTANCE (the xhad resource
// name), OCF_RESOURCE_PROVIDER, OCF_RESOURCE_TYPE, OCF_RA_VERSION_MAJOR/MINOR,
// OCF_RESKEY_CRM_meta_timeout (the operation's timeout in milliseconds, which
// many agents use to size their own waits) and OCF_RESKEY_<param> for every
// parameter. Exit codes follow the OCF spec: 0 success, 1-6 errors, 7 not
// running, 8 running promoted, 9 failed promoted, 190/191 degraded.
// Stop runs `stop` and verifies with `monitor`, which must exit 7.
type OCF struct {
	base
	provider, agentType string
	root, path          string
}

// OCF exit codes.
const (
	ocfSuccess          = 0
	ocfErrGeneric       = 1
	ocfErrArgs          = 2
	ocfErrUnimplemented = 3
	ocfErrPerm          = 4
	ocfErrInstalled     = 5
	ocfErrConfigured    = 6
	ocfNotRunning       = 7
	ocfRunningPromoted  = 8
	ocfFailedPromoted   = 9
	ocfDegraded         = 190
	ocfDegradedPromoted = 191
)

var ocfCodeNames = map[int]string{
	ocfSuccess:          "success",
	ocfErrGeneric:       "generic error",
	ocfErrArgs:          "invalid arguments",
	ocfErrUnimplemented: "unimplemented action",
	ocfErrPerm:          "insufficient permissions",
	ocfErrInstalled:     "required software not installed",
	ocfErrConfigured:    "not configured",
	ocfNotRunning:       "not running",
	ocfRunningPromoted:  "running promoted",
	ocfFailedPromoted:   "failed promoted",
	ocfDegraded:         "running degraded",
	ocfDegradedPromoted: "running promoted degraded",
}

func ocfCodeName(code int) string {
	if name, ok := ocfCodeNames[code]; ok {
		return name
	}
	return "unknown exit code"
}

func (o *OCF) env(timeoutMillis int64) []string {
	env := []string{
		"OCF_ROOT=" + o.root,
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=" + o.Name(),
		"OCF_RESOURCE_PROVIDER=" + o.provider,
		"OCF_RESOURCE_TYPE=" + o.agentType,
		"OCF_RESKEY_CRM_meta_timeout=" + strconv.FormatInt(timeoutMillis, 10),
	}
	names := make([]string, 0, len(o.spec.Exec.Params))
	for name := range o.spec.Exec.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		env = append(env, "OCF_RESKEY_"+name+"="+o.spec.Exec.Params[name])
	}
	return env
}

func (o *OCF) action(ctx context.Context, op string) (int, error) {
	var millis int64
	if deadline, ok := ctx.Deadline(); ok {
		millis = max(time.Until(deadline).Milliseconds(), 1)
	}
	_, err := o.execEnv(ctx, o.env(millis), o.path, op)
	if err == nil {
		return ocfSuccess, nil
	}
	if code := runner.ExitCode(err); code > 0 {
		return code, err
	}
	return -1, err
}

// Start runs the agent's start action; only exit 0 is success.
func (o *OCF) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.startTimeout())
	defer cancel()
	code, err := o.action(ctx, "start")
	if err == nil {
		return nil
	}
	if code > 0 {
		return fmt.Errorf("start ocf %s (%s): %s: %w", o.Name(), o.spec.Exec.Agent, ocfCodeName(code), err)
	}
	return fmt.Errorf("start ocf %s (%s): %w", o.Name(), o.spec.Exec.Agent, err)
}

// Stop runs the agent's stop action and verifies with monitor (exit 7).
func (o *OCF) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.stopTimeout())
	defer cancel()
	what := fmt.Sprintf("stop ocf %s (%s)", o.Name(), o.spec.Exec.Agent)
	code, stopErr := o.action(ctx, "stop")
	if ctxDone(ctx) != nil {
		return fmt.Errorf("%s: %w", what, stopErr)
	}
	if stopErr != nil && code > 0 {
		stopErr = fmt.Errorf("%s: %w", ocfCodeName(code), stopErr)
	}
	st, err := o.probe(ctx)
	switch {
	case err != nil && stopErr != nil:
		return fmt.Errorf("%s: %w; and monitor failed: %w", what, stopErr, err)
	case err != nil:
		return fmt.Errorf("%s: cannot verify: %w", what, err)
	case st.State == Stopped:
		return nil
	case stopErr != nil:
		return fmt.Errorf("%s: %w (monitor: %s)", what, stopErr, st.Detail)
	}
	return fmt.Errorf("%s: stop exited 0 but monitor says %s", what, st.Detail)
}

// Probe runs the agent's monitor action.
func (o *OCF) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	st, err := o.probe(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("probe ocf %s (%s): %w", o.Name(), o.spec.Exec.Agent, err)
	}
	return st, nil
}

func (o *OCF) probe(ctx context.Context) (Status, error) {
	code, err := o.action(ctx, "monitor")
	if code < 0 {
		return Status{}, err // did not run, or timed out
	}
	detail := fmt.Sprintf("monitor exit %d: %s", code, ocfCodeName(code))
	switch code {
	case ocfSuccess, ocfRunningPromoted, ocfDegraded, ocfDegradedPromoted:
		return Status{State: Running, Detail: detail}, nil
	case ocfNotRunning:
		return Status{State: Stopped, Detail: detail}, nil
	}
	return Status{State: Failed, Detail: detail}, nil
}

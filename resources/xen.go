package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"xhad/internal/runner"
)

// DefaultPollInterval is how often Xen.Stop re-reads `xl list` while it waits
// for a domain to go away.
const DefaultPollInterval = 500 * time.Millisecond

// Xen runs one Xen domain with xl.
//
// Probe runs `xl list DOM`: exit 1 with "is an invalid domain identifier" (or
// "does not exist") is Stopped; a row that is not shut down, crashed or dying
// is Running (paused included, as Ganeti does); a crashed domain ('c') and a
// domain that is shut down or dying but still listed are Failed.
//
// Start probes first and does nothing when the domain is running; it refuses
// to create a second copy next to a listed Failed one. Otherwise it runs
// `xl create CFG` (exit 3 "already exists" after a race is re-probed) and
// checks that the domain is then listed and running.
//
// Stop runs `xl shutdown DOM` and polls `xl list DOM` until the domain is gone
// or the shutdown timeout passed; then it runs `xl destroy DOM` until the
// domain is gone, bounded by the stop timeout. A domain without PV drivers is
// asked with `xl shutdown -F DOM` (ACPI power button) instead.
type Xen struct {
	base
	xl string
	// PollInterval is the wait between two `xl list` while stopping. Waiting
	// always honours the context.
	PollInterval time.Duration
}

func (x *Xen) dom() string { return x.spec.Xen.Domain }

// shutdownWait is how long Stop waits for a graceful shutdown: the spec's
// shutdown timeout, but never so long that no time is left to destroy; an
// unset or too long value becomes two thirds of the stop timeout (as
// ClusterLabs' Xen agent does).
func (x *Xen) shutdownWait() time.Duration {
	stop := x.stopTimeout()
	wait := x.spec.Xen.ShutdownTimeout
	if wait <= 0 || wait >= stop {
		wait = stop * 2 / 3
	}
	return wait
}

func (x *Xen) pollInterval() time.Duration {
	if x.PollInterval > 0 {
		return x.PollInterval
	}
	return DefaultPollInterval
}

// Start creates the domain unless it is already running.
func (x *Xen) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, x.startTimeout())
	defer cancel()
	what := fmt.Sprintf("start xen %s (domain %s)", x.Name(), x.dom())

	st, err := x.probe(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch st.State {
	case Running:
		return nil
	case Failed:
		return fmt.Errorf("%s: domain is listed but %s; stop it before starting a new copy", what, st.Detail)
	}
	_, createErr := x.exec(ctx, x.xl, "create", x.spec.Xen.Config)
	if createErr != nil {
		var ee *runner.ExitError
		if !(errors.As(createErr, &ee) && ee.Code == 3 && strings.Contains(ee.Stderr, "already exists")) {
			return fmt.Errorf("%s: %w", what, createErr)
		}
	}
	st, err = x.probe(ctx)
	switch {
	case err != nil && createErr != nil:
		return fmt.Errorf("%s: %w; and the domain cannot be probed: %w", what, createErr, err)
	case err != nil:
		return fmt.Errorf("%s: probe after xl create: %w", what, err)
	case st.State == Running:
		return nil
	case createErr != nil:
		return fmt.Errorf("%s: %w (now %s)", what, createErr, st.Detail)
	case st.State == Stopped:
		return fmt.Errorf("%s: xl create %s exited 0 but domain %s is not listed (does the config name it %q?)",
			what, x.spec.Xen.Config, x.dom(), x.dom())
	}
	return fmt.Errorf("%s: domain is %s after xl create", what, st.Detail)
}

type immediateKey struct{}

// WithImmediateStop marks a stop as immediate: an isolated node gives its
// groups up to the peer, its domains' disks no longer replicate, and a
// graceful shutdown would only keep two copies running longer. Xen domains
// are destroyed without `xl shutdown` first.
func WithImmediateStop(ctx context.Context) context.Context {
	return context.WithValue(ctx, immediateKey{}, true)
}

func immediate(ctx context.Context) bool { v, _ := ctx.Value(immediateKey{}).(bool); return v }

// Stop shuts the domain down, destroys it if it does not go in time, and
// returns nil only once `xl list DOM` says it no longer exists. An
// immediate stop (WithImmediateStop) destroys it at once.
func (x *Xen) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, x.stopTimeout())
	defer cancel()
	what := fmt.Sprintf("stop xen %s (domain %s)", x.Name(), x.dom())

	present, err := x.present(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !present {
		return nil
	}

	var shutErr error
	if !immediate(ctx) {
		_, shutErr = x.exec(ctx, x.xl, "shutdown", x.dom())
		var ee *runner.ExitError
		if shutErr != nil && errors.As(shutErr, &ee) && strings.Contains(ee.Stderr, "PV control interface not available") {
			_, shutErr = x.exec(ctx, x.xl, "shutdown", "-F", x.dom())
		}
	}
	if !immediate(ctx) && (shutErr == nil || xlNoSuchDomain(shutErr)) {
		gone, listErr := x.waitGone(ctx, x.shutdownWait())
		if gone {
			return nil
		}
		if err := ctxDone(ctx); err != nil {
			if listErr != nil {
				return fmt.Errorf("%s: waiting for the shutdown: %w (last: %v)", what, err, listErr)
			}
			return fmt.Errorf("%s: waiting for the shutdown: %w", what, err)
		}
	}

	// Not gone gracefully (or a graceful shutdown is impossible): destroy
	// until it is gone or the stop timeout ends.
	var lastErr error
	for {
		if _, err := x.exec(ctx, x.xl, "destroy", x.dom()); err != nil && ctxDone(ctx) == nil && !xlNoSuchDomain(err) {
			lastErr = err
		}
		present, err := x.present(ctx)
		if err == nil && !present {
			return nil
		}
		if err != nil && ctxDone(ctx) == nil {
			lastErr = err
		}
		if ctxDone(ctx) != nil || !x.wait(ctx, x.pollInterval()) {
			if lastErr == nil {
				lastErr = errors.New("domain still listed")
			}
			if shutErr != nil {
				return fmt.Errorf("%s: %w (xl shutdown: %v; last: %v)", what, ctxDone(ctx), shutErr, lastErr)
			}
			return fmt.Errorf("%s: %w (last: %v)", what, ctxDone(ctx), lastErr)
		}
	}
}

// waitGone polls until the domain is gone (true) or limit or ctx ends.
func (x *Xen) waitGone(ctx context.Context, limit time.Duration) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var lastErr error
	for {
		present, err := x.present(ctx)
		if err == nil && !present {
			return true, nil
		}
		if err != nil {
			lastErr = err
		}
		if !x.wait(wctx, x.pollInterval()) {
			return false, lastErr
		}
	}
}

// wait sleeps for d unless ctx ends first, reporting whether it slept.
func (x *Xen) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Probe reads `xl list DOM`.
func (x *Xen) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	st, err := x.probe(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("probe xen %s (domain %s): %w", x.Name(), x.dom(), err)
	}
	return st, nil
}

func (x *Xen) probe(ctx context.Context) (Status, error) {
	res, err := x.exec(ctx, x.xl, "list", x.dom())
	if err != nil {
		if xlNoSuchDomain(err) {
			return Status{State: Stopped, Detail: "domain not listed"}, nil
		}
		return Status{}, err
	}
	doms, err := ParseXLList(string(res.Stdout))
	if err != nil {
		return Status{}, err
	}
	for _, d := range doms {
		if d.Name == x.dom() {
			return xenStatusOf(d), nil
		}
	}
	return Status{}, fmt.Errorf("xl list %s exited 0 without a row for the domain", x.dom())
}

// present reports whether `xl list DOM` still lists the domain in any state.
func (x *Xen) present(ctx context.Context) (bool, error) {
	_, err := x.exec(ctx, x.xl, "list", x.dom())
	if err == nil {
		return true, nil
	}
	if xlNoSuchDomain(err) {
		return false, nil
	}
	return false, err
}

// xlNoSuchDomain reports the exit 1 xl gives for a name or id it cannot find.
func xlNoSuchDomain(err error) bool {
	var ee *runner.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		return false
	}
	return strings.Contains(ee.Stderr, "is an invalid domain identifier") ||
		strings.Contains(ee.Stderr, "does not exist")
}

func xenStatusOf(d XLDomain) Status {
	where := fmt.Sprintf("%s, id %d", d.State, d.ID)
	switch {
	case d.Crashed:
		return Status{State: Failed, Detail: "crashed (" + where + ")"}
	case d.Shutdown:
		return Status{State: Failed, Detail: fmt.Sprintf("shut down, reason %s, still listed (%s)", d.ShutdownReason, where)}
	case d.Dying:
		return Status{State: Failed, Detail: "dying (" + where + ")"}
	case d.Paused:
		return Status{State: Running, Detail: "paused (" + where + ")"}
	}
	return Status{State: Running, Detail: "running (" + where + ")"}
}

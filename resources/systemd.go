package resources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"xhad/internal/runner"
)

// Systemd starts and stops one systemd unit with systemctl, run by argv
// through internal/runner, not over D-Bus: the module set has no D-Bus
// client, systemctl's exit codes and messages are stable and documented,
// and the adapter is tested against runnertest.Fake like the other kinds
// (the development machines do not run systemd as PID 1).
//
// Probe runs `systemctl show --property=LoadState,ActiveState,SubState
// UNIT` (key=value lines, independent of the order systemctl prints them
// in) and maps ActiveState: active and reloading are Running, inactive is
// Stopped, failed is Failed, activating and deactivating are Unknown with
// the state in Detail (Start and Stop wait them out). A unit that is not
// installed (LoadState not-found) is Stopped.
//
// Start probes first and does nothing for an active unit; it refuses to
// start a unit that is not installed or is masked, naming the fix. Otherwise
// it runs `systemctl start UNIT` (which waits for the start job) and polls
// until ActiveState is active, failing at once on failed (or inactive after
// the job, the case of a oneshot unit without RemainAfterExit=yes).
//
// Stop runs `systemctl stop UNIT` unless the unit is already inactive,
// failed or not installed ("Unit … not loaded.", exit 5, counts as stopped),
// and returns nil only once ActiveState is inactive or failed.
type Systemd struct {
	base
	systemctl string
	// PollInterval is the wait between two `systemctl show` while waiting
	// for a state; zero means DefaultPollInterval.
	PollInterval time.Duration
}

func newSystemd(b base) (*Systemd, error) {
	if b.spec.Systemd == nil || b.spec.Systemd.Unit == "" {
		return nil, fmt.Errorf("new systemd resource %s: no unit name", b.spec.Name)
	}
	return &Systemd{base: b, systemctl: "systemctl", PollInterval: DefaultPollInterval}, nil
}

func (s *Systemd) unit() string { return s.spec.Systemd.Unit }

func (s *Systemd) what(op string) string {
	return fmt.Sprintf("%s systemd %s (unit %s)", op, s.Name(), s.unit())
}

// unitState is what `systemctl show` said about a unit.
type unitState struct {
	Load, Active, Sub string
}

func (u unitState) String() string {
	if u.Sub == "" {
		return u.Active
	}
	return fmt.Sprintf("%s (%s)", u.Active, u.Sub)
}

// parseSystemctlShow reads `systemctl show --property=…` output: KEY=VALUE
// lines in any order.
func parseSystemctlShow(out string) (unitState, error) {
	var u unitState
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "LoadState":
			u.Load = v
		case "ActiveState":
			u.Active = v
		case "SubState":
			u.Sub = v
		}
	}
	if u.Active == "" {
		return u, fmt.Errorf("systemctl show printed no ActiveState: %q", firstLine(out))
	}
	return u, nil
}

// systemdDown reports systemctl's answer on a host where systemd is not PID
// 1 or its bus cannot be reached.
func systemdDown(err error) bool {
	var ee *runner.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	msg := ee.Stderr + " " + ee.Stdout
	return strings.Contains(msg, "has not been booted with systemd") ||
		strings.Contains(msg, "Failed to connect to bus")
}

// systemctlErr adds the fix to errors that have an obvious one.
func (s *Systemd) systemctlErr(err error) error {
	if systemdDown(err) {
		return fmt.Errorf("systemd is not running on this host (PID 1 is not systemd, or its bus is down); a systemd resource needs it: %w", err)
	}
	return err
}

func (s *Systemd) show(ctx context.Context) (unitState, error) {
	res, err := s.exec(ctx, s.systemctl, "show", "--property=LoadState,ActiveState,SubState", s.unit())
	if err != nil {
		return unitState{}, s.systemctlErr(err)
	}
	return parseSystemctlShow(string(res.Stdout))
}

func (s *Systemd) pollInterval() time.Duration {
	if s.PollInterval > 0 {
		return s.PollInterval
	}
	return DefaultPollInterval
}

// wait sleeps for the poll interval unless ctx ends first.
func (s *Systemd) wait(ctx context.Context) bool {
	t := time.NewTimer(s.pollInterval())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// loadProblem explains a LoadState with which the unit cannot start, with
// the fix; "" when it can.
func (s *Systemd) loadProblem(u unitState) string {
	switch u.Load {
	case "not-found":
		return fmt.Sprintf("unit %s is not installed on this host (LoadState not-found); install it or check resource %s's unit", s.unit(), s.Name())
	case "masked":
		return fmt.Sprintf("unit %s is masked; unmask it (systemctl unmask %s) or remove resource %s", s.unit(), s.unit(), s.Name())
	case "bad-setting", "error":
		return fmt.Sprintf("unit %s cannot be loaded (LoadState %s); see systemctl status %s", s.unit(), u.Load, s.unit())
	}
	return ""
}

// Start starts the unit unless it is active and waits until it is.
func (s *Systemd) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.startTimeout())
	defer cancel()
	what := s.what("start")

	u, err := s.show(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if u.Active == "active" || u.Active == "reloading" {
		return nil
	}
	if p := s.loadProblem(u); p != "" {
		return fmt.Errorf("%s: %s", what, p)
	}
	_, startErr := s.exec(ctx, s.systemctl, "start", s.unit())
	startErr = s.systemctlErr(startErr)
	if systemdDown(startErr) {
		return fmt.Errorf("%s: %w", what, startErr)
	}
	hint := fmt.Sprintf("see journalctl -u %s", s.unit())
	last := u
	for {
		u, err := s.show(ctx)
		if err == nil {
			last = u
		}
		switch {
		case err != nil && ctxDone(ctx) == nil:
			if startErr != nil {
				return fmt.Errorf("%s: %w; and the state cannot be read: %w", what, startErr, err)
			}
			return fmt.Errorf("%s: read the state after systemctl start: %w", what, err)
		case err != nil:
		case u.Active == "active" || u.Active == "reloading":
			return nil
		case u.Active == "failed":
			if startErr != nil {
				return fmt.Errorf("%s: %w (now %s; %s)", what, startErr, u, hint)
			}
			return fmt.Errorf("%s: unit is %s after systemctl start; %s", what, u, hint)
		case u.Active == "inactive" && startErr == nil:
			return fmt.Errorf("%s: unit is %s after a successful systemctl start (a oneshot unit needs RemainAfterExit=yes); %s", what, u, hint)
		case u.Active == "inactive":
			if p := s.loadProblem(u); p != "" {
				return fmt.Errorf("%s: %s: %w", what, p, startErr)
			}
			return fmt.Errorf("%s: %w (now %s; %s)", what, startErr, u, hint)
		}
		// activating, deactivating (a restart) or unreadable: wait.
		if ctxDone(ctx) != nil || !s.wait(ctx) {
			if startErr != nil {
				return fmt.Errorf("%s: %w waiting for active (last %s; systemctl start: %v)", what, context.DeadlineExceeded, last, startErr)
			}
			return fmt.Errorf("%s: %w waiting for active (last %s; %s)", what, context.DeadlineExceeded, last, hint)
		}
	}
}

// Stop stops the unit and returns nil once it is inactive or failed.
func (s *Systemd) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.stopTimeout())
	defer cancel()
	what := s.what("stop")

	u, err := s.show(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if unitStopped(u) {
		return nil
	}
	_, stopErr := s.exec(ctx, s.systemctl, "stop", s.unit())
	var ee *runner.ExitError
	if errors.As(stopErr, &ee) && ee.Code == 5 && strings.Contains(ee.Stderr, "not loaded") {
		stopErr = nil // nothing to stop; the check below confirms it
	}
	stopErr = s.systemctlErr(stopErr)
	if systemdDown(stopErr) {
		return fmt.Errorf("%s: %w", what, stopErr)
	}
	last := u.String()
	for {
		u, err := s.show(ctx)
		switch {
		case err == nil && unitStopped(u):
			return nil
		case err == nil:
			last = u.String()
		case ctxDone(ctx) == nil:
			last = err.Error()
		}
		if ctxDone(ctx) != nil || !s.wait(ctx) {
			if stopErr != nil {
				return fmt.Errorf("%s: %w (last %s): %w", what, context.DeadlineExceeded, last, stopErr)
			}
			return fmt.Errorf("%s: %w waiting for inactive (last %s)", what, context.DeadlineExceeded, last)
		}
	}
}

func unitStopped(u unitState) bool {
	return u.Active == "inactive" || u.Active == "failed" || u.Load == "not-found" && u.Active != "active"
}

// Probe reads the unit's state.
func (s *Systemd) Probe(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	u, err := s.show(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", s.what("probe"), err)
	}
	return systemdStatusOf(u), nil
}

func systemdStatusOf(u unitState) Status {
	switch {
	case u.Load == "not-found" && u.Active == "inactive":
		return Status{State: Stopped, Detail: "not installed (LoadState not-found)"}
	case u.Active == "active", u.Active == "reloading":
		return Status{State: Running, Detail: u.String()}
	case u.Active == "inactive":
		d := u.String()
		if u.Load == "masked" {
			d += ", masked"
		}
		return Status{State: Stopped, Detail: d}
	case u.Active == "failed":
		return Status{State: Failed, Detail: u.String()}
	}
	// activating, deactivating, maintenance, refreshing…
	return Status{State: Unknown, Detail: u.String()}
}

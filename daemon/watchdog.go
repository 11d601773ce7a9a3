package daemon

import (
	"time"

	"xhad/daemon/core"
	"xhad/fence"
)

// hwWatchdog drives the optional hardware watchdog (fencing.watchdog-device).
// It is armed (opened) while this node holds a group — STARTING, ACTIVE,
// STOPPING or FAILED — and petted from the decision loop only, so a loop that
// stalls (SIGSTOP, a hung kernel call) resets the host before the peer's
// deadtime runs out (the config requires watchdog-timeout < deadtime). When
// the node holds nothing, and at a clean exit, it is disarmed with the magic
// close, so a standby node is never reset.
//
// An isolated node (core's Isolated, or a group in an immediate stop that
// has not finished) stops petting at once: if its immediate stop finishes,
// it holds nothing and the magic close disarms the watchdog in time; if a
// start in flight or the stop takes too long, or the stop fails (a domain
// that cannot be destroyed), the watchdog resets the host before the peer's
// isolation-grace ends (the config makes the grace long enough), so the peer
// never starts a second copy.
type hwWatchdog struct {
	d        *Daemon
	wd       *fence.Watchdog
	lastPet  time.Time
	failed   bool // an open failed: logged once
	starving bool // not petting: this node is isolated and still holds a group
}

func (w *hwWatchdog) tick() {
	d := w.d
	path := d.plan.Fencing.WatchdogDevice
	if path == "" {
		return
	}
	holds := false
	for _, g := range d.plan.Groups {
		holds = holds || d.m.Role(g.Name) != core.Standby
	}
	switch {
	case holds && w.wd == nil:
		wd, err := fence.OpenWatchdog(path, d.plan.Fencing.WatchdogTimeout)
		if err != nil {
			if !w.failed {
				w.failed = true
				d.log.Error("cannot arm the hardware watchdog", "why", err.Error())
			}
			return
		}
		w.failed = false
		w.wd = wd
		d.log.Info("hardware watchdog armed: this node holds a group", "device", path, "timeout", wd.Timeout().String())
		w.pet()
	case holds && (len(d.isolating) > 0 || d.m.Isolated()):
		if !w.starving {
			w.starving = true
			d.log.Error("isolated: no longer petting the hardware watchdog; the host resets unless the immediate stop finishes first",
				"timeout", w.wd.Timeout().String(), "last-pet", time.Since(w.lastPet).Round(time.Millisecond).String())
		}
	case holds:
		w.starving = false
		if time.Since(w.lastPet) >= w.wd.Timeout()/4 {
			w.pet()
		}
	case w.wd != nil:
		w.starving = false
		w.close("this node holds no group any more")
	}
}

func (w *hwWatchdog) pet() {
	if err := w.wd.Pet(); err != nil {
		w.d.log.Error("cannot pet the hardware watchdog", "why", err.Error())
		return
	}
	w.lastPet = time.Now()
}

func (w *hwWatchdog) close(why string) {
	if w.wd == nil {
		return
	}
	if err := w.wd.Close(); err != nil {
		w.d.log.Error("hardware watchdog not disarmed cleanly", "why", err.Error())
	} else {
		w.d.log.Info("hardware watchdog disarmed (magic close)", "why", why)
	}
	w.wd = nil
}

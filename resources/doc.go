// Package resources starts, stops and probes the things xhad protects, and
// schedules them as groups.
//
// A Resource is one protected thing (a DRBD resource, an LVM volume group, a
// Xen domain, a service address, a systemd unit, an LSB script or an OCF
// agent). Start and Stop are idempotent and
// bounded by the resource's start/stop timeout as well as by the caller's
// context. Stop returns nil only after it has verified that the thing is
// stopped; a successful exit of a command is never taken as proof on its own.
// Start returns a *Refusal when doing it would not be safe (for example a DRBD
// disk that is not UpToDate, or a peer that is Primary), and an ordinary
// wrapped error when it tried and failed. Every external program runs through
// internal/runner by argv, with the tool path from dsl.Tools.
//
// The Scheduler starts a group respecting each resource's After list, with a
// bounded number of operations at once, adopting resources a probe finds
// already running; a failed start rolls the whole group back. It stops a group
// in reverse dependency order and never stops something while a resource that
// depends on it is still up, so a failed stop leaves that resource's
// dependencies running and is reported, never hidden.
//
// An ip resource speaks rtnetlink directly (no `ip` binary) and announces
// the address with gratuitous ARPs or unsolicited neighbour advertisements;
// with a lifetime it is a Refresher that the daemon must renew from its loop
// (a daemon that hangs or is killed loses the address by itself). A systemd
// resource runs `systemctl` by argv through internal/runner rather than
// talking D-Bus: systemctl's states and exit codes are stable and documented,
// no D-Bus client module is needed, and the adapter is tested against
// runnertest.Fake on machines whose PID 1 is not systemd.
//
// The parsers of `drbdadm status`, /proc/drbd, `xl list` and `xl list -l` are
// exported for the daemon, the simulators and the tests.
package resources

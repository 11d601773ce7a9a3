package man

import (
	"fmt"

	"xhad/fence"
)

// The hand-written sections of xhad(8), in roff. They describe behaviour
// the command line definition does not carry; keep them in step with
// README.md ("How it decides") and SPEC.md.

const descriptionSection = `.SH DESCRIPTION
.B xhad
runs on both dom0 hosts of a two\-node Xen cluster.
The two daemons exchange authenticated heartbeats (HMAC\-SHA256, sequence
numbers, boot epochs) over every configured link at once: UDP on a dedicated
link, optionally UDP on a second network, and an RS\-232 null\-modem cable.
The peer is dead only when it has been silent on
.I all
links for
.BR timing.deadtime ;
one silent link is reported as DEGRADED and never causes a failover.
.PP
The protected resources \(em DRBD resources, LVM volume groups, Xen domains,
service addresses, scripts and OCF agents \(em are declared in groups in
.BR xhad.toml (5).
A group runs on one node at a time; its resources start in the order written
(independent ones in parallel) and stop in reverse order.
When the active node dies, the standby fences it and takes the groups over.
Before that it pings the peer's public address: a host that answers is
partitioned, not dead, and nothing is taken over.
A peer that said goodbye (an orderly stop) is taken over at once.
.PP
A node starts as STANDBY and never takes over blindly: groups start only once
both nodes have met (the group's preferred node wins, else the node whose name
sorts first), or when an operator forces it with
.BR "xhad takeover" ,
SIGUSR1 or
.BR "xhad run \-\-force\-main" .
A survivor that restarts does not start groups on its own either.
On start\-up every resource is probed and what already runs is adopted, never
started twice.
.PP
Every decision is logged with its reason (log key
.BR why ).
Use the same configuration file on both hosts and check it with
.B xhad check\-config
after every change.
`

const statesSection = `.SH STATES
Each group has a role on each node, shown by
.BR "xhad status" ,
in
.B STATUS=
for systemd, and in the metrics.
Every transition is logged with its reason and written to the state directory
(atomically, with fsync) before the peer hears of it.
.TP
.B STANDBY
The group's resources are stopped here; the node watches the peer and is ready
to take over.
Every node starts in this role.
.TP
.B STARTING
The resources are coming up in start order.
A failed start rolls back what was started, in reverse order.
.TP
.B ACTIVE
The group runs here.
Its resources are probed every
.BR timing.monitor\-interval ;
a failed one is restarted locally up to
.B max\-restarts
times per
.BR restart\-window ,
then the group fails over.
.TP
.B STOPPING
The resources are going down in reverse order: after
.BR "xhad standby" ,
during an orderly stop, or on the losing side of a split brain.
.TP
.B FAILED
A stop failed.
The node cuts itself off (self fence) and does nothing more for this group
until an operator acts:
.B xhad standby
retries the stop,
.B xhad takeover
starts the group again here.
It never guesses.
.PP
.B Maintenance
is a mode, not a role.
After
.B xhad maintenance on
the node stops acting: no failover, no monitoring, operator moves refused;
SIGTERM then exits leaving the resources running, and the peer does not take
them over.
.B xhad maintenance off
probes every resource again and resumes.
Use it to upgrade xhad or to work on resources by hand.
.PP
.B Anti\-flapping:
beyond
.B failover.max\-takeovers
automatic takeovers per
.B failover.flap\-window
a node stays put and says so until an operator acknowledges with
.BR "xhad takeover" .
`

const signalsSection = `.SH SIGNALS
The signals follow jhad and Heartbeat: SIGHUP does
.I not
reload the configuration.
.TP
.B SIGHUP
Go to standby: hand every group to the peer, like
.BR "xhad standby" .
The move is one\-shot: if the peer dies later, the groups are taken back.
.TP
.B SIGUSR1
Take every group over, also as a lone node, like
.BR "xhad takeover" ;
also acknowledges an anti\-flapping hold.
.TP
.B SIGUSR2
Reload the configuration, like
.BR "xhad reload" .
A file that does not validate is refused with every problem listed, and the
old plan stays in force; a valid file that changes more than
.B log\-level
is refused naming what changed (restart the daemon, standby node first).
.TP
.BR SIGTERM ", " SIGINT
Orderly stop: stop every group here in reverse order, say goodbye to the peer
(which takes over at once, without fencing) and exit.
Under systemd the daemon sends STOPPING=1 and, while resources are still
stopping, EXTEND_TIMEOUT_USEC every second.
In maintenance mode the daemon exits at once and leaves the resources running.
`

// exitStatusSection documents the exit codes; the fence-peer handler's come
// from package fence, where the handler takes them from.
var exitStatusSection = fmt.Sprintf(`.SH EXIT STATUS
.TP
.B 0
Success.
.TP
.B 1
Failure: the configuration is invalid (every problem is printed as
.IR FILE : LINE : COL ),
the daemon could not start or stopped on an error, the daemon refused the
command (the reason is printed), or the command line was not understood.
.TP
.B 2
Wrong arguments, for example
.B xhad maintenance
without
.BR on | off .
.TP
.B 3
The daemon is not running: the control socket could not be reached
.RB ( status ,
.BR standby ,
.BR takeover ,
.BR maintenance ,
.BR reload ).
.PP
.B xhad fence\-peer
is DRBD's fence\-peer handler and exits with DRBD's codes only, never 0 or 1:
.TP
.B %d
The peer's disk is Inconsistent.
.TP
.B %d
The peer outdated its disk.
.TP
.B %d
The peer is unreachable (dead).
.TP
.B %d
The peer is Primary: DRBD outdates the local disk.
.TP
.B %d
Not fenced: the peer could not be asked in time and is not known to be dead.
DRBD logs the handler as broken and changes nothing.
`, fence.ExitPeerInconsistent, fence.ExitPeerOutdated, fence.ExitPeerUnreachable, fence.ExitPeerPrimary, fence.ExitNotFenced)

const systemdEnvironment = `.TP
.BR NOTIFY_SOCKET ", " WATCHDOG_USEC ", " WATCHDOG_PID
Set by systemd for
.BR "xhad run" :
the daemon reports READY=1 once every resource has been probed, a one\-line
STATUS=, and sends WATCHDOG=1 from its decision loop only, at half of
WATCHDOG_USEC, so a stalled loop is noticed.
.TP
.B JOURNAL_STREAM
Set by systemd when standard error goes to the journal; the daemon then logs
in a form the journal indexes.
`

const filesSection = `.SH FILES
.TP
.I /etc/xhad/xhad.toml
The configuration, the same on both hosts; see
.BR xhad.toml (5).
.TP
.I /etc/xhad/authkey
The shared secret named by
.BR auth\-key\-file :
the same on both hosts, owned by root, mode 0600.
.TP
.I /var/lib/xhad/
The state directory
.RB ( state\-dir ):
.I state.json
holds the role of every group, the boot epoch and the fences;
.I lock
keeps a second daemon out.
.TP
.I /run/xhad/xhad.sock
The control socket
.RB ( control\-socket ),
root only; the directory is created at boot by
.IR /usr/lib/tmpfiles.d/xhad.conf .
.TP
.I /lib/systemd/system/xhad.service
The systemd unit.
Boot with
.B xhad.off
on the kernel command line to keep the daemon from starting.
.TP
.I /etc/default/xhad
Optional environment for the unit, for example
.BR XHAD_NODE= .
.TP
.I /usr/share/doc/xhad/examples/
Commented example configurations and the DRBD handler snippets.
`

const seeAlsoSection = `.SH SEE ALSO
.BR xhad.toml (5),
.BR drbdadm (8),
.BR drbd.conf (5),
.BR xl (1),
.BR vgchange (8),
.BR systemd.service (5),
.BR journalctl (1)
`

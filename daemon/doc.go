// Package daemon is xhad's event loop. It turns I/O into events for the pure
// decision core (daemon/core) and carries out the actions the core returns:
// it persists state before announcing it, sends heartbeats on every link,
// starts and stops groups in worker goroutines (so heartbeats and watchdog
// pings keep flowing during a long stop), fences, and logs every decision with
// its reason. It also serves the control socket, maps signals to operator
// commands (SIGHUP standby, SIGUSR1 takeover, SIGUSR2 reload, SIGTERM/SIGINT
// orderly stop) and talks to systemd (READY, STATUS, WATCHDOG, STOPPING,
// EXTEND_TIMEOUT_USEC).
//
// Only the loop goroutine touches the core.Machine; everything else posts
// events to it.
package daemon

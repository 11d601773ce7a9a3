// Package sim simulates Xen's `xl` and DRBD 9's `drbdadm` for tests and
// `xhad demo`, on machines with neither Xen nor a DRBD kernel module.
//
// Both nodes of a simulated pair share one state directory (XHAD_SIM_DIR);
// XHAD_SIM_NODE says which node a command runs on. Every command takes an
// exclusive flock on DIR/lock, reads DIR/state.json, settles what time alone
// has done (a requested shutdown that completed, a resync that finished),
// acts, appends one line per state change to DIR/journal (with fsync), writes
// the state atomically (temporary file, fsync, rename, fsync of the
// directory), rewrites DIR/nodes/NODE/proc-drbd, and unlocks. There is no
// simulator daemon: time-based behaviour is computed from timestamps.
//
// Output, refusal messages and exit codes follow the real tools (drbd-utils
// 9.22.0, Xen's xl; shared/reference/drbd-xen.md sections 2 to 4) byte for
// byte where the reference or the tools' sources say what they are. A
// subcommand the simulator does not implement fails like an unknown command
// of the real tool. ReadJournal and CheckInvariants are the safety proof that
// tests use: never an exclusive domain on both nodes, never two Primaries.
//
// Known differences from the real tools:
//   - The fence-peer handler string is split with strings.Fields and run by
//     argv through internal/runner, not by `/bin/sh -c`; "{node}" in it is
//     replaced by the node name. It gets DRBD 9's variables (reference 1.2)
//     plus XHAD_SIM_DIR and XHAD_SIM_NODE, on top of the simulator's own
//     environment (the kernel's minimal HOME/TERM/PATH are not imposed). It
//     is bounded by the handler-timeout setting (default 60s; DRBD has none).
//   - The handler a lost connection starts runs synchronously inside the
//     `ctl disconnect` or `ctl host-crash` that cut it (the kernel runs it
//     asynchronously); other commands proceed meanwhile, as the lock is
//     released while any handler runs.
//   - `xl shutdown -w` gives up after the shutdown-wait setting (default
//     30s) with exit code 1; real xl waits forever.
//   - DRBD 9 auto-promote is not simulated: `xl create` with a writable disk
//     on a DRBD device that is not Primary on that node fails like a vbd that
//     cannot be attached (exit 3). Promotion needs UpToDate local data (8.4
//     rule; DRBD 9 could promote a connected SyncTarget).
//   - /proc/drbd transfer counters (ns, nr, dw, ...) read 0; resources that
//     are down are not listed.
//   - `xl list -l` shows a reduced libxl_domain_config (c_info, b_info,
//     disks, nics, on_*), keys in libxl order, indented like yajl.
//   - drbdadm ignores -c FILE (there is no configuration file) and refuses
//     the options it does not simulate as unrecognized; drbdsetup's extra
//     "additional info from kernel" lines about openers of a device held
//     open (recent DRBD 9 kernels) are not printed.
package sim

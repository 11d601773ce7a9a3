// Package fence fences without a power switch.
//
// NFT keeps the nftables tables named Config.Table that xhad owns: one of
// family inet and, when the self fence cuts interfaces, one of family bridge.
// They are written through netlink (no nft binary at run time). Every change
// rebuilds them from the wanted state and sends them in one netlink batch
// (add table, delete table, add table, chains and rules, then flush), so the
// kernel holds the old tables or the new ones, never half of one; the tables
// are then read back and compared rule by rule with what was written, and
// only a matching read-back counts as fenced (ErrVerify otherwise). Each rule
// carries "xhad KIND fence since TIME: WHY" as its comment (UserData), so
// Fences reports since and why after a daemon restart. With no fence left the
// tables are deleted.
//
//   - Peer fence (survivor): TCP from and to the peer's addresses on the DRBD
//     replication ports is dropped in input and output (both source and
//     destination port, since each side connects to the other), so a zombie
//     old active cannot reconnect and resync in the wrong direction. Nothing
//     else from the peer is dropped: UDP heartbeats keep flowing. It stays
//     until Unfence (xhad unfence). It needs only the inet table.
//   - Self fence (the node that loses): traffic in and out of the service
//     interfaces (the exclusive domains' vifs) is dropped in the inet forward
//     chain (routed Xen networking) and in the bridge forward chain (bridged
//     Xen networking: frames switched between bridge ports never reach the
//     inet hooks without br_netfilter); input, output and forward drop traffic
//     to and from the service addresses. Interfaces of both-mode domains must
//     not be listed, and they are never cut.
//
// The fence-peer handler logic (ParseHandlerEnv, ExitFor, Decide) maps what
// the peer answered to `drbdadm outdate RES` to the exit code DRBD expects;
// see handler.go for every mapping and its effect in the kernel. The
// handler never runs longer than its time limit (Decide; drbdadm has none).
// When the local daemon is not running, the handler decides alone
// (DaemonDownOutcome): the kernel calls it only on a Primary that lost its
// peer or on a promotion of a disconnected node, and without the daemon it
// cannot ask the peer. If this node's nftables peer fence is installed (the
// daemon took over from a dead peer and fenced it; the table survives the
// daemon), it answers 5, "peer unreachable", since the peer cannot reconnect
// and resync; the kernel then outdates the peer only if our disk is UpToDate.
// Otherwise it answers 100, "not fenced": the kernel changes nothing, a
// frozen Primary (resource-and-stonith) stays frozen until the connection
// returns or an operator runs `drbdadm resume-io`, and a promotion is
// refused until xhad runs again or an operator forces it.
//
// Watchdog drives an optional hardware watchdog. The trade-off: with a
// watchdog a hung decision loop (or a hung kernel) resets the host within
// the timeout, so its domains stop for sure before the peer takes them over;
// the price is that any stall longer than the timeout (a slow disk, a long
// stop of many domains not covered by pets) reboots the host, and a
// watchdog left armed by a crash reboots it too. Close writes the magic 'V'
// so an orderly exit disarms it; Pet is called only by the decision loop
// while ACTIVE or FAILED, so a stalled loop is what fires it.
package fence

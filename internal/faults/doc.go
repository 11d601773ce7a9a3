// Package faults holds the fault matrix and the failover benchmark: two real
// xhad daemons as two hosts in network namespaces (internal/netbed) with a
// real UDP link, a PTY serial cable, real nftables and the service address
// on a real interface, probed by a client in its own namespace; xl and
// drbdadm are simulated. Every test ends with the simulator's journal check
// (no exclusive domain on both nodes, DRBD never Primary on both) and a
// check of which node answers for the service address. The tests need
// root; they skip without it, and fail when CI=true.
//
// BenchmarkFailover (make bench) measures the failover latency a client
// sees, for xhad and for keepalived (Debian package keepalived) side by
// side, and idle CPU and memory of each daemon; it asserts nothing.
package faults

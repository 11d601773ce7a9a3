// Package netbed runs two real xhad daemons as two hosts in network
// namespaces, for the fault-matrix tests and the failover benchmark.
//
// A Bed is four namespaces named after one random id: xhadA-ID and xhadB-ID
// (the hosts), xhadS-ID (a switch: the bridge of the public segment) and
// xhadC-ID (a client). The hosts share a dedicated veth link (dl0,
// 10.240.X.1 and .2/24) and sit on the public segment (pub0, 10.241.X.1 and
// .2/24) with the client (10.241.X.100); the group's service address is
// 10.241.X.50/24 on pub0, added by the daemon's ip resource over real
// rtnetlink with gratuitous ARP. The serial link is a PTY cable
// (internal/ptycable). Each daemon runs under `ip netns exec` with its own
// state dir, control socket and nftables (its namespace's), and the xl,
// drbdadm, vgchange and vgs simulators first in PATH, sharing one simulator
// state dir. The partition check uses the real ping inside the namespace
// (the simulated ping is not in PATH): a host whose public link is down does
// not answer.
//
// Every link can be cut and healed in either or both directions (dedicated:
// link down both ways, an nftables drop in the receiving namespace one way;
// public: an nftables drop of the other host's public address; serial: the
// cable's relay drops that direction's bytes), a daemon killed, stopped, continued
// or restarted, a host crashed (links down, kill -9, simulator host-crash)
// and booted. With Options.Database (DatabaseMariaDB or DatabasePostgreSQL)
// each host also runs a database server in its namespace on its dl0
// address, replicating over dl0 (MariaDB master-master; PostgreSQL primary
// on a, streaming standby on b), guarded by a second group "db" (a database
// resource). With
// Options.Watchdog each host's watchdog-device is a FakeWatchdog (a FIFO
// that counts down like the kernel's and reports when it would reset the
// host); Options.PingClient makes the client's address the ping target and
// Options.NoPublicAddress leaves out the partition check.
//
// Everything a Bed creates is removed in t.Cleanup, also when
// the test fails. Beds need root: New skips without it, and fails when the
// environment variable CI=true.
package netbed

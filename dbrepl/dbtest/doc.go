// Package dbtest starts real database servers for tests: a MariaDB pair in
// master-master GTID replication and a PostgreSQL 15 primary with a streaming
// hot standby, on free loopback ports, with data directories under
// t.TempDir(), running as the databases' own users (mysql, postgres).
//
// Servers are started with start-stop-daemon (through internal/runner, argv
// only) while the test process is a child subreaper, so every server becomes
// a child of the test process: it is stopped by PID and reaped, and
// t.Cleanup stops whatever still runs. Require skips a test that cannot run
// here (not root, binaries missing) and fails it when CI=true.
//
// StartMariaDBPairWith and StartPGPairWith place the servers elsewhere
// (PGOptions.AuthHosts opens pg_hba to a subnet): each inside a
// network namespace (`ip netns exec NS start-stop-daemon ...`), bound to an
// address of that namespace (e.g. its end of a dedicated link, so that
// replication runs over that link), with the accounts also granted to a
// host pattern such as the link's subnet. The test process reaches a
// namespaced server over its unix socket (filesystem sockets cross network
// namespaces; TCP to the namespace's addresses does not).
package dbtest

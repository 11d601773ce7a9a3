// Package core is xhad's decision machine: events and ticks in, ordered
// actions out.
//
// It imports only the standard library and does no I/O: it reads no clock
// (time is counted in ticks fed by Tick), starts no goroutines and writes no
// logs. Every decision comes back as an Action, including a Report action
// carrying the reason, which the daemon logs once. This makes every behaviour
// replayable from a scenario file (testdata/*.txt) and from a seeded two-node
// simulation.
//
// The caller feeds Tick() once per tick period and Step(ev) for every event
// (a heartbeat heard on a link, an operation finished, a fence result, an
// operator command), and must carry out the returned actions in order. In
// particular an ActionPersist always precedes the ActionSend that announces the
// state it persisted: persist before announce.
//
// Safety rules encoded here, each tested by scenarios:
//   - the peer is dead only when it has been silent on every link for the dead
//     ticks; one silent link is a degraded state, never a failover;
//   - while the peer is alive, a node starts a group only through a two-way
//     handshake: its peer's latest heartbeat must grant it the group, computed
//     over this node's current state version, while the peer holds the group
//     in STANDBY (see Grant). Two nodes that can talk can never both start it;
//   - a dead peer's groups are taken over only after the peer fence succeeded,
//     or without fencing when the peer said goodbye;
//   - a node never takes over alone after start-up: the peer must have been
//     seen during this run, unless an operator forces it;
//   - a failed stop leaves the group FAILED with a self-fence, and nothing
//     more happens to it until an operator acts;
//   - two nodes that both run a group after a partition resolve it
//     deterministically: the higher takeover generation keeps the group, equal
//     generations go to the lower node name; the loser self-fences and stops.
package core

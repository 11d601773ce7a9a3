// Package linktest provides an in-memory heartbeat link for tests of the
// daemon: Pair returns two connected link.Transport ends that a test can cut,
// heal, cut in one direction, make lossy or slow, and inject forged or
// replayed frames into. Frame loss is decided by a seeded generator, so a run
// is reproducible from its seed. It starts no goroutines, so it also works
// inside a testing/synctest bubble.
package linktest

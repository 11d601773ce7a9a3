// Package statefile keeps the daemon's persistent state on disk and makes
// sure only one daemon uses a state directory.
//
// Save writes JSON atomically: to a temporary file in the same directory,
// fsynced, renamed over the target, and the directory fsynced, so after a
// crash or power loss the file holds either the old or the new state, never
// a mix. Temporary files left by a crash are ignored by Load and removed by
// the next Save. Load reports a missing file as not found, and a corrupt one
// as an error that names the file and says what to do. Lock takes an
// exclusive flock on DIR/lock that the kernel releases when the process
// dies, and records the holder's pid there for the error a second daemon
// gets.
package statefile

// Package runner is the only place in xhad that starts external programs.
//
// A program is always run by argv, never through a shell. Every run has a
// deadline, its standard output and error are captured, and a non-zero exit
// becomes an *ExitError that carries the exit code, so callers can map DRBD's
// and xl's documented exit codes to outcomes. Package runnertest has a fake
// that records command lines and answers from a table.
package runner

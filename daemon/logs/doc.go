// Package logs builds the daemon's log/slog logger.
//
// Every record is one line of logfmt (key=value). When the daemon runs under
// systemd with its output connected to the journal (JOURNAL_STREAM is set),
// each line starts with the syslog priority in angle brackets (<7> debug,
// <6> info, <4> warning, <3> error) so journald files it at the right
// priority, and carries no timestamp, since journald adds its own. Otherwise
// each line starts with an RFC 3339 timestamp. A message or value containing
// a newline is quoted, so a record never spans two lines. The Key constants
// are the attribute names the daemon uses for its fixed fields.
package logs

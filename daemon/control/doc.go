// Package control is the daemon's local control socket: the `xhad status`,
// `standby`, `takeover`, ... commands talk to the running daemon through it.
//
// The protocol is one request per connection on a unix stream socket: the
// client sends one line of JSON (a Request), the server answers with one line
// of JSON (a Response) and closes. The server reads at most MaxRequestSize
// bytes within a read deadline, and answers anything it cannot use (garbage,
// an oversized or unfinished request) with an error Response instead of
// waiting. Only root and the daemon's own user may use the socket: it is
// created mode 0600, and every connection's peer credentials (SO_PEERCRED)
// are checked as well. Listen refuses to start when another daemon answers on
// the socket, and replaces a socket left behind by a dead one. Call is the
// client; its errors are worded for the operator at the terminal.
package control

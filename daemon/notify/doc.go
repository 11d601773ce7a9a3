// Package notify tells systemd about the daemon's state through the sd_notify
// protocol (the daemon runs as a Type=notify unit).
//
// A Notifier reads NOTIFY_SOCKET once, when it is made, and leaves the
// environment alone. Without NOTIFY_SOCKET (not started by systemd) every
// method is a no-op that returns nil; with it, each method sends one datagram
// and returns an error naming the message and the socket when the send fails.
// Abstract sockets ("@name") are supported. Status sends nothing when the text
// is unchanged since the last successful send. WatchdogInterval says whether
// systemd expects WATCHDOG=1 pings from this process, and how often to send
// them: every half of WatchdogSec.
package notify

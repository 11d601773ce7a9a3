package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// Attribute keys the daemon uses for its fixed fields, so that every line
// about the same thing can be found with one grep or journalctl filter.
const (
	KeyRole  = "role"  // the node's role: STANDBY, STARTING, ACTIVE, STOPPING, FAILED
	KeyEpoch = "epoch" // the node's boot epoch
	KeyGroup = "group" // a resource group
	KeyRes   = "res"   // a resource
	KeyLink  = "link"  // a heartbeat link
	KeyPeer  = "peer"  // the peer node's name
	KeyWhy   = "why"   // the reason for a decision
)

// Syslog priorities as journald reads them from a line prefix.
const (
	priorityError   = 3
	priorityWarning = 4
	priorityInfo    = 6
	priorityDebug   = 7
)

// New returns a logger that writes records at or above level to w, one line
// per record. With journal set, lines start with the record's syslog priority
// (<N>) and have no timestamp; otherwise they start with time=<RFC 3339>.
// Writes to w are serialised, so w need not be safe for concurrent use.
func New(w io.Writer, level slog.Level, journal bool) *slog.Logger {
	if !journal {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(&journalHandler{out: &lockedWriter{w: w}, level: level})
}

// ParseLevel reads a level name as written in the config or on the command
// line: debug, info, warn (or warning) and error, in any case, optionally
// with an offset as slog writes it ("info+2").
func ParseLevel(s string) (slog.Level, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(name, "warning"); ok {
		name = "warn" + rest
	}
	var level slog.Level
	if name == "" {
		return level, errors.New("empty log level: want debug, info, warn or error")
	}
	if err := level.UnmarshalText([]byte(name)); err != nil {
		return level, fmt.Errorf("unknown log level %q: want debug, info, warn or error", s)
	}
	return level, nil
}

// syslogPriority maps a slog level to the syslog priority journald expects.
func syslogPriority(level slog.Level) int {
	switch {
	case level >= slog.LevelError:
		return priorityError
	case level >= slog.LevelWarn:
		return priorityWarning
	case level >= slog.LevelInfo:
		return priorityInfo
	default:
		return priorityDebug
	}
}

// lockedWriter serialises whole-line writes shared by a handler and the
// handlers derived from it by WithAttrs and WithGroup.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// journalHandler formats a record exactly as slog.TextHandler does, minus the
// time, into a buffer, and writes it behind its syslog priority prefix. The
// attributes and groups added with WithAttrs and WithGroup are replayed, in
// order, on the text handler built for each record.
type journalHandler struct {
	out   *lockedWriter
	level slog.Level
	steps []scopeStep
}

// scopeStep is one WithAttrs (attrs set) or WithGroup (group set) call.
type scopeStep struct {
	group string
	attrs []slog.Attr
}

func (h *journalHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	var line bytes.Buffer
	line.WriteByte('<')
	line.WriteString(strconv.Itoa(syslogPriority(r.Level)))
	line.WriteByte('>')
	var text slog.Handler = slog.NewTextHandler(&line, &slog.HandlerOptions{
		Level:       h.level,
		ReplaceAttr: dropTime,
	})
	for _, step := range h.steps {
		if step.group != "" {
			text = text.WithGroup(step.group)
		} else {
			text = text.WithAttrs(step.attrs)
		}
	}
	if err := text.Handle(ctx, r); err != nil {
		return fmt.Errorf("format log record: %w", err)
	}
	if _, err := h.out.Write(line.Bytes()); err != nil {
		return fmt.Errorf("write log record: %w", err)
	}
	return nil
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(scopeStep{attrs: attrs})
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(scopeStep{group: name})
}

func (h *journalHandler) with(step scopeStep) *journalHandler {
	steps := make([]scopeStep, 0, len(h.steps)+1)
	steps = append(steps, h.steps...)
	return &journalHandler{out: h.out, level: h.level, steps: append(steps, step)}
}

// dropTime removes the record's time; journald stamps each line itself.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

package logs

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJournalLines(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		log   func(*slog.Logger)
		want  string
	}{
		{
			name:  "info with the fixed keys",
			level: slog.LevelInfo,
			log: func(l *slog.Logger) {
				l.Info("took over", KeyRole, "ACTIVE", KeyEpoch, 7, KeyPeer, "node-b", KeyWhy, "peer silent on all links")
			},
			want: `<6>level=INFO msg="took over" role=ACTIVE epoch=7 peer=node-b why="peer silent on all links"` + "\n",
		},
		{
			name:  "debug",
			level: slog.LevelDebug,
			log:   func(l *slog.Logger) { l.Debug("beat", KeyLink, "udp") },
			want:  "<7>level=DEBUG msg=beat link=udp\n",
		},
		{
			name:  "warn",
			level: slog.LevelDebug,
			log:   func(l *slog.Logger) { l.Warn("link down", KeyLink, "serial") },
			want:  "<4>level=WARN msg=\"link down\" link=serial\n",
		},
		{
			name:  "error",
			level: slog.LevelDebug,
			log:   func(l *slog.Logger) { l.Error("stop failed", KeyGroup, "g1", KeyRes, "vm1") },
			want:  "<3>level=ERROR msg=\"stop failed\" group=g1 res=vm1\n",
		},
		{
			name:  "level between info and warn keeps the info priority",
			level: slog.LevelDebug,
			log:   func(l *slog.Logger) { l.Log(t.Context(), slog.LevelInfo+2, "x") },
			want:  "<6>level=INFO+2 msg=x\n",
		},
		{
			name:  "level below debug is debug",
			level: slog.LevelDebug - 4,
			log:   func(l *slog.Logger) { l.Log(t.Context(), slog.LevelDebug-4, "x") },
			want:  "<7>level=DEBUG-4 msg=x\n",
		},
		{
			name:  "level above error is error",
			level: slog.LevelDebug,
			log:   func(l *slog.Logger) { l.Log(t.Context(), slog.LevelError+4, "x") },
			want:  "<3>level=ERROR+4 msg=x\n",
		},
		{
			name:  "below the threshold writes nothing",
			level: slog.LevelWarn,
			log:   func(l *slog.Logger) { l.Info("quiet"); l.Debug("quieter") },
			want:  "",
		},
		{
			name:  "newlines stay inside one line",
			level: slog.LevelInfo,
			log:   func(l *slog.Logger) { l.Info("two\nlines", KeyWhy, "a\nb") },
			want:  `<6>level=INFO msg="two\nlines" why="a\nb"` + "\n",
		},
		{
			name:  "attributes and groups from With and WithGroup",
			level: slog.LevelInfo,
			log: func(l *slog.Logger) {
				l.With(KeyPeer, "node-b").WithGroup("drbd").With("minor", 0).Info("promoted", KeyRes, "r0")
			},
			want: "<6>level=INFO msg=promoted peer=node-b drbd.minor=0 drbd.res=r0\n",
		},
		{
			name:  "derived loggers do not share attributes",
			level: slog.LevelInfo,
			log: func(l *slog.Logger) {
				base := l.With(KeyRole, "STANDBY")
				base.With(KeyRes, "a").Info("one")
				base.With(KeyRes, "b").Info("two")
				base.Info("three")
			},
			want: "<6>level=INFO msg=one role=STANDBY res=a\n" +
				"<6>level=INFO msg=two role=STANDBY res=b\n" +
				"<6>level=INFO msg=three role=STANDBY\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.log(New(&out, tt.level, true))
			if got := out.String(); got != tt.want {
				t.Errorf("journal output:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTextLines(t *testing.T) {
	line := regexp.MustCompile(`^time=(\S+) (.*)\n$`)
	tests := []struct {
		name  string
		level slog.Level
		log   func(*slog.Logger)
		want  []string // each line without its time= field
	}{
		{
			name:  "info with the fixed keys",
			level: slog.LevelInfo,
			log: func(l *slog.Logger) {
				l.Info("standby", KeyRole, "STANDBY", KeyEpoch, 3, KeyWhy, "operator asked (SIGHUP)")
			},
			want: []string{`level=INFO msg=standby role=STANDBY epoch=3 why="operator asked (SIGHUP)"`},
		},
		{
			name:  "every level above the threshold",
			level: slog.LevelDebug,
			log: func(l *slog.Logger) {
				l.Debug("d")
				l.Info("i")
				l.Warn("w")
				l.Error("e")
			},
			want: []string{"level=DEBUG msg=d", "level=INFO msg=i", "level=WARN msg=w", "level=ERROR msg=e"},
		},
		{
			name:  "below the threshold writes nothing",
			level: slog.LevelError,
			log:   func(l *slog.Logger) { l.Warn("w"); l.Info("i") },
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			before := time.Now().Add(-time.Second) // the format keeps milliseconds only
			tt.log(New(&out, tt.level, false))
			after := time.Now().Add(time.Second)
			lines := strings.SplitAfter(out.String(), "\n")
			if last := lines[len(lines)-1]; last == "" {
				lines = lines[:len(lines)-1]
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tt.want), out.String())
			}
			for i, got := range lines {
				m := line.FindStringSubmatch(got)
				if m == nil {
					t.Fatalf("line %d %q does not start with time=", i, got)
				}
				stamp, err := time.Parse(time.RFC3339Nano, m[1])
				if err != nil {
					t.Errorf("line %d: time %q: %v", i, m[1], err)
				} else if stamp.Before(before) || stamp.After(after) {
					t.Errorf("line %d: time %v not between %v and %v", i, stamp, before, after)
				}
				if m[2] != tt.want[i] {
					t.Errorf("line %d after the time:\n got %q\nwant %q", i, m[2], tt.want[i])
				}
				if strings.HasPrefix(got, "<") {
					t.Errorf("line %d has a priority prefix outside the journal: %q", i, got)
				}
			}
		})
	}
}

// TestConcurrentLinesStayWhole logs from many goroutines through derived
// loggers into a writer that is not safe for concurrent use; run with -race.
func TestConcurrentLinesStayWhole(t *testing.T) {
	for _, journal := range []bool{true, false} {
		t.Run(fmt.Sprintf("journal=%v", journal), func(t *testing.T) {
			var out bytes.Buffer
			logger := New(&out, slog.LevelInfo, journal)
			const goroutines, perGoroutine = 8, 50
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					l := logger.With(KeyLink, fmt.Sprintf("link%d", g))
					for i := range perGoroutine {
						l.Info("beat", "seq", i)
					}
				})
			}
			wg.Wait()
			whole := regexp.MustCompile(`^(<6>|time=\S+ )level=INFO msg=beat link=link\d seq=\d+$`)
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != goroutines*perGoroutine {
				t.Fatalf("got %d lines, want %d", len(lines), goroutines*perGoroutine)
			}
			for i, l := range lines {
				if !whole.MatchString(l) {
					t.Fatalf("line %d is not a whole record: %q", i, l)
				}
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr string
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "info", want: slog.LevelInfo},
		{in: "INFO", want: slog.LevelInfo},
		{in: " Info\n", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: "warning", want: slog.LevelWarn},
		{in: "Warning+1", want: slog.LevelWarn + 1},
		{in: "error", want: slog.LevelError},
		{in: "info+2", want: slog.LevelInfo + 2},
		{in: "debug-4", want: slog.LevelDebug - 4},
		{in: "", wantErr: "empty log level: want debug, info, warn or error"},
		{in: "verbose", wantErr: `unknown log level "verbose": want debug, info, warn or error`},
		{in: "info+", wantErr: `unknown log level "info+": want debug, info, warn or error`},
		{in: "6", wantErr: `unknown log level "6": want debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseLevel(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

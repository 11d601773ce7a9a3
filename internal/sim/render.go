package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// wrapWriter reproduces drbd-utils' wrap_printf: text is printed in pieces,
// a piece that would pass the right margin starts a new line, and a piece
// printed at the start of a line loses its leading spaces and is indented.
type wrapWriter struct {
	b       strings.Builder
	col     int
	columns int
}

func newWrapWriter() *wrapWriter { return &wrapWriter{columns: 80} }

func (w *wrapWriter) printf(indent int, format string, args ...any) {
	n := len(fmt.Sprintf(format, args...))
	if w.col+n > w.columns {
		w.b.WriteByte('\n')
		format = strings.TrimPrefix(format, "\n")
		w.col = 0
	}
	if w.col == 0 {
		format = strings.TrimLeft(format, " ")
		w.col += indent
		w.b.WriteString(strings.Repeat(" ", indent))
	}
	text := fmt.Sprintf(format, args...)
	w.b.WriteString(text)
	w.col += len(text)
	if strings.HasSuffix(format, "\n") {
		w.col = 0
	}
}

// drbdStatus renders `drbdsetup status RES` (DRBD 9, stdout not a tty) for
// one resource that is up on node.
func drbdStatus(st *State, node string, r *Resource, now time.Time) string {
	v := resourceView(st, node, r, now)
	w := newWrapWriter()
	w.printf(0, "%s", r.Name)
	w.printf(4, " role:%s", v.role)
	if v.suspendedFencing {
		w.printf(4, " suspended:%s", "fencing")
	}
	if v.failIO {
		w.printf(4, " force-io-failures:%s", "yes")
	}
	w.printf(0, "\n")

	w.printf(2, " disk:%s", v.disk)
	if v.disk == diskDiskless {
		w.printf(2, " client:%s", "no")
	}
	w.printf(6, "\n")

	w.printf(2, "%s", st.peerOf(node))
	if v.cstate != connConnected {
		w.printf(6, " connection:%s", v.cstate)
	} else {
		w.printf(6, " role:%s", v.peerRole)
	}
	w.printf(0, "\n")
	if v.cstate == connConnected {
		indent := 4
		if v.repl != replEstablished && v.repl != replOff {
			w.printf(indent, " replication:%s", v.repl)
			indent = 8
		}
		w.printf(indent, " peer-disk:%s", v.peerDisk)
		if v.peerDisk == diskDiskless {
			w.printf(8, " peer-client:%s", "no")
		}
		if v.repl == replSyncSource || v.repl == replSyncTarget {
			w.printf(8, " done:%.2f", v.syncDone())
		}
		w.printf(0, "\n")
	}
	w.printf(0, "\n")
	return w.b.String()
}

// DRBD 8.4's /proc/drbd: the version lines of the reference sample.
const procDRBDHeader = "version: 8.4.6 (api:1/proto:86-101)\n" +
	"GIT-hash: 833d830e0152d1e457fa7856e71e11248ccf3f70 build by phil@Build64R7, 2015-04-10 05:13:52\n"

// cs84 is the DRBD 8.4 combined connection state of a view.
func (v view) cs84() string {
	switch {
	case v.cstate == connConnecting:
		return "WFConnection"
	case v.cstate == connStandAlone:
		return "StandAlone"
	case v.repl == replSyncSource || v.repl == replSyncTarget:
		return v.repl
	}
	return "Connected"
}

// groupThousands prints a KB/s value as drbd_proc.c does (1,234).
func groupThousands(v int64) string {
	switch {
	case v >= 1000000:
		return fmt.Sprintf("%d,%03d,%03d", v/1000000, v%1000000/1000, v%1000)
	case v >= 1000:
		return fmt.Sprintf("%d,%03d", v/1000, v%1000)
	}
	return fmt.Sprintf("%d", v)
}

// renderProcDRBD renders DRBD 8.4's /proc/drbd as node would show it. Only
// resources that are up appear (8.4's `down` deletes the minor). Transfer
// counters are not simulated and read 0, except ep:1, wo:f and oos.
func renderProcDRBD(st *State, node string, now time.Time) string {
	var b strings.Builder
	b.WriteString(procDRBDHeader)
	resources := slices.Clone(st.Resources)
	slices.SortFunc(resources, func(x, y *Resource) int { return x.Minor - y.Minor })
	prev := -1
	for _, r := range resources {
		if !r.Nodes[node].Up {
			continue
		}
		if prev != r.Minor-1 {
			b.WriteByte('\n')
		}
		prev = r.Minor
		v := resourceView(st, node, r, now)
		protocol, io := 'C', 'r'
		if v.cstate == connStandAlone {
			protocol = ' '
		}
		if v.suspendedFencing {
			io = 's'
		}
		oos := int64(0)
		if v.repl == replSyncSource || v.repl == replSyncTarget {
			oos = v.syncLeftKB
		}
		fmt.Fprintf(&b, "%2d: cs:%s ro:%s/%s ds:%s/%s %c %c%c%c%c%c%c\n", r.Minor, v.cs84(), v.role, v.peerRole,
			v.disk, v.peerDisk, protocol, io, '-', '-', '-', '-', '-')
		fmt.Fprintf(&b, "    ns:%d nr:%d dw:%d dr:%d al:%d bm:%d lo:%d pe:%d ua:%d ap:%d ep:%d wo:%c oos:%d\n",
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'f', oos)
		if oos > 0 || v.repl == replSyncSource || v.repl == replSyncTarget {
			b.WriteString(syncProgress84(v))
		}
	}
	return b.String()
}

// syncProgress84 is drbd_syncer_progress() of DRBD 8.4.7, from a view.
func syncProgress84(v view) string {
	// Bitmap bits are 4 KiB blocks.
	rsTotal := uint64(v.syncTotalKB / 4)
	rsLeft := uint64(v.syncLeftKB / 4)
	var perMil uint64
	if rsLeft > rsTotal {
		rsLeft = rsTotal
		if rsTotal == 0 {
			perMil = 1000
		}
	} else {
		shift := uint(10)
		if rsTotal > 0xFFFFFFFF {
			shift = 16
		}
		left := rsLeft >> shift
		total := 1 + rsTotal>>shift
		perMil = 1000 - left*1000/total
	}
	var b strings.Builder
	x := int(perMil / 50)
	b.WriteString("\t[")
	for i := 1; i < x; i++ {
		b.WriteByte('=')
	}
	b.WriteByte('>')
	for i := 0; i < 20-x; i++ {
		b.WriteByte('.')
	}
	b.WriteString("] ")
	fmt.Fprintf(&b, "sync'ed:%3d.%d%% ", perMil/10, perMil%10)
	if rsTotal > 4<<(30-12) {
		fmt.Fprintf(&b, "(%d/%d)M", (rsLeft>>10)<<2, (rsTotal>>10)<<2)
	} else {
		fmt.Fprintf(&b, "(%d/%d)K", rsLeft<<2, rsTotal<<2)
	}
	b.WriteString("\n\t")
	dt := uint64(v.syncElapsed / time.Second)
	if dt == 0 {
		dt = 1
	}
	db := rsTotal - rsLeft
	rt := (dt * (rsLeft / (db/100 + 1))) / 100
	fmt.Fprintf(&b, "finish: %d:%02d:%02d", rt/3600, rt%3600/60, rt%60)
	speed := int64((db / dt) << 2)
	fmt.Fprintf(&b, " speed: %s (%s)", groupThousands(speed), groupThousands(speed))
	if v.repl == replSyncTarget {
		want := int64(0)
		if secs := v.syncDuration.Seconds(); secs > 0 {
			want = int64(float64(v.syncTotalKB) / secs)
		}
		fmt.Fprintf(&b, " want: %s", groupThousands(want))
	}
	b.WriteString(" K/sec\n")
	return b.String()
}

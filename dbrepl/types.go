package dbrepl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"xhad/dsl"
)

// Default limits, the same as the config language's defaults (Patroni's
// maximum_lag_on_failover, orchestrator's ReasonableReplicationLagSeconds).
const (
	DefaultMaxLagBytes    = 1 << 20
	DefaultMaxLagDelay    = 10 * time.Second
	DefaultCatchupTimeout = 30 * time.Second
	DefaultConnectTimeout = 2 * time.Second
)

// Limits bound how stale a candidate may be.
type Limits struct {
	MaxLagBytes int64 // PostgreSQL: last known primary LSN minus what the standby has
	//lint:ignore ST1011 named after the config key max-lag-seconds, like dsl.DatabaseSpec
	MaxLagSeconds  time.Duration // MariaDB: Seconds_Behind_Master
	MaxLagTrx      int64         // MariaDB: old writer's GTID seq_no minus what arrived here; 0 = none may be missing
	CatchupTimeout time.Duration // bounded wait for the relay log / WAL replay
	ConnectTimeout time.Duration // per connection attempt
}

// LimitsFrom takes the limits of a database resource of the plan.
func LimitsFrom(spec dsl.DatabaseSpec) Limits {
	return Limits{
		MaxLagBytes:    spec.MaxLagBytes,
		MaxLagSeconds:  spec.MaxLagSeconds,
		MaxLagTrx:      spec.MaxLagTrx,
		CatchupTimeout: spec.CatchupTimeout,
		ConnectTimeout: spec.ConnectTimeout,
	}
}

func (l Limits) catchup() time.Duration {
	if l.CatchupTimeout <= 0 {
		return DefaultCatchupTimeout
	}
	return l.CatchupTimeout
}

func (l Limits) connect() time.Duration {
	if l.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return l.ConnectTimeout
}

// Known is what the daemon last saw of the old primary while it was alive.
// Zero fields were never seen; the verdict then says what it could not check.
type Known struct {
	// MariaDB: @@gtid_binlog_pos of the old writer, e.g. "1-1-20,2-2-5".
	WriterGTIDBinlogPos string
	// PostgreSQL: pg_current_wal_lsn() and timeline of the old primary.
	PrimaryLSN      LSN
	PrimaryTimeline uint32
}

// Facts is one probe of the candidate: exactly one of the fields is set.
type Facts struct {
	MariaDB  *MariaDBFacts
	Postgres *PGFacts
}

// MariaDBFacts is what one MariaDB server says about itself.
type MariaDBFacts struct {
	ServerID       uint32
	GTIDDomainID   uint32
	ReadOnly       bool
	GTIDBinlogPos  string // @@gtid_binlog_pos: written to this server's binlog
	GTIDSlavePos   string // @@gtid_slave_pos: applied by replication
	GTIDCurrentPos string // @@gtid_current_pos: newer of the two per domain
	Replica        *ReplicaStatus
}

// ReplicaStatus is one row of SHOW SLAVE STATUS, columns mapped by name.
// Nil in MariaDBFacts when the server is not configured as a replica.
type ReplicaStatus struct {
	IORunning           string // Slave_IO_Running: Yes | Connecting | No
	SQLRunning          string // Slave_SQL_Running: Yes | No
	SQLRunningState     string // Slave_SQL_Running_State
	MasterHost          string
	MasterPort          int
	MasterServerID      uint32
	MasterLogFile       string // received up to MasterLogFile:ReadMasterLogPos
	ReadMasterLogPos    uint64
	RelayMasterLogFile  string // applied up to RelayMasterLogFile:ExecMasterLogPos
	ExecMasterLogPos    uint64
	GTIDIOPos           string // Gtid_IO_Pos: received
	SecondsBehindMaster *int64 // nil = NULL (SQL thread stopped or IO thread disconnected)
	LastIOErrno         int
	LastIOError         string
	LastSQLErrno        int
	LastSQLError        string
	SQLDelay            int64
}

// PGFacts is what one PostgreSQL server says about itself.
type PGFacts struct {
	InRecovery   bool
	ReceiveLSN   LSN    // pg_last_wal_receive_lsn(); 0 = NULL (never streamed)
	ReplayLSN    LSN    // pg_last_wal_replay_lsn()
	PauseState   string // pg_get_wal_replay_pause_state(): "not paused" | "pause requested" | "paused"
	LastReplayTS time.Time
	Receiver     *WALReceiver // nil = no row in pg_stat_wal_receiver
	CurrentLSN   LSN          // primary only: pg_current_wal_lsn()
	// Timeline: on a primary from its current WAL file; on a standby the
	// receiver's received_tli, else the last checkpoint's timeline.
	Timeline uint32
}

// WALReceiver is the row of pg_stat_wal_receiver.
type WALReceiver struct {
	Status         string
	ReceivedTLI    uint32
	FlushedLSN     LSN
	LatestEndLSN   LSN
	LastMsgReceipt time.Time
	SenderHost     string
	SenderPort     int
}

// Decision is the verdict of the gate.
type Decision struct {
	Promotable bool
	// Reasons are the vetoes, each a sentence; empty when Promotable.
	Reasons []string
	// Notes say what was checked or could not be checked.
	Notes []string
	// Lags; -1 = unknown.
	LagBytes   int64
	LagSeconds int64
	LagTrx     int64
}

func (d Decision) String() string {
	verdict := "promotable"
	parts := d.Reasons
	if !d.Promotable {
		verdict = "refused"
	} else {
		parts = d.Notes
	}
	if len(parts) == 0 {
		return verdict
	}
	return verdict + ": " + strings.Join(parts, "; ")
}

// LSN is a PostgreSQL WAL position.
type LSN uint64

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xffffffff) }

// ParseLSN reads "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("parse lsn %q: want HI/LO in hex", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse lsn %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("parse lsn %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

// GTIDPos is a MariaDB GTID position: per replication domain, the last
// server_id and seq_no.
type GTIDPos map[uint32]GTID

// GTID is one domain-server-seq triple.
type GTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// ParseGTIDPos reads "1-1-20,2-2-5" (empty = no transactions).
func ParseGTIDPos(s string) (GTIDPos, error) {
	pos := GTIDPos{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("parse gtid position %q: %q is not domain-server-seq", s, part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("parse gtid position %q: %q is not domain-server-seq in decimal", s, part)
		}
		pos[uint32(d)] = GTID{Domain: uint32(d), Server: uint32(sv), Seq: seq}
	}
	return pos, nil
}

func (p GTIDPos) String() string {
	domains := make([]int, 0, len(p))
	for d := range p {
		domains = append(domains, int(d))
	}
	sort.Ints(domains)
	parts := make([]string, 0, len(domains))
	for _, d := range domains {
		parts = append(parts, p[uint32(d)].String())
	}
	return strings.Join(parts, ",")
}

// newest merges positions, keeping the highest seq_no per domain.
func newest(ps ...GTIDPos) GTIDPos {
	out := GTIDPos{}
	for _, p := range ps {
		for d, g := range p {
			if cur, ok := out[d]; !ok || g.Seq > cur.Seq {
				out[d] = g
			}
		}
	}
	return out
}

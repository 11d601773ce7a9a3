package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"xhad/daemon/control"
	"xhad/resources"
)

// metrics exports the daemon's state in the Prometheus text format. Gauges
// are read from a status snapshot taken by the loop at scrape time; counters
// of decisions and operation durations are kept as they happen.
type metrics struct {
	d         *Daemon
	decisions *prometheus.CounterVec
	opSeconds *prometheus.HistogramVec
	reg       *prometheus.Registry
}

var (
	descRole      = prometheus.NewDesc("xhad_group_role", "1 for the role the group has on this node.", []string{"group", "role"}, nil)
	descGen       = prometheus.NewDesc("xhad_group_generation", "Takeover generation of the group on this node.", []string{"group"}, nil)
	descEpoch     = prometheus.NewDesc("xhad_epoch", "Boot epoch of this daemon.", nil, nil)
	descPeer      = prometheus.NewDesc("xhad_peer_alive", "1 when the peer is heard on at least one link.", []string{"peer"}, nil)
	descMaint     = prometheus.NewDesc("xhad_maintenance", "1 in maintenance mode.", nil, nil)
	descFlap      = prometheus.NewDesc("xhad_flap_hold", "1 while the anti-flapping hold waits for an operator.", nil, nil)
	descLinkUp    = prometheus.NewDesc("xhad_link_up", "1 when the peer was heard on the link within deadtime.", []string{"link"}, nil)
	descLinkAge   = prometheus.NewDesc("xhad_link_heartbeat_age_seconds", "Seconds since the last accepted heartbeat on the link (-1: never).", []string{"link"}, nil)
	descRx        = prometheus.NewDesc("xhad_link_received_total", "Accepted messages per link.", []string{"link"}, nil)
	descTx        = prometheus.NewDesc("xhad_link_sent_total", "Messages sent per link.", []string{"link"}, nil)
	descDropped   = prometheus.NewDesc("xhad_link_dropped_total", "Dropped frames per link and reason.", []string{"link", "reason"}, nil)
	descResState  = prometheus.NewDesc("xhad_resource_state", "1 for the last seen state of a resource.", []string{"group", "resource", "state"}, nil)
	descGate      = prometheus.NewDesc("xhad_db_gate_promotable", "1 when the last promotion passed the replication gate (0 refused or forced past it).", []string{"group", "resource"}, nil)
	descGateForce = prometheus.NewDesc("xhad_db_gate_forced", "1 when the last promotion was forced past the gate.", []string{"group", "resource"}, nil)
	descLag       = prometheus.NewDesc("xhad_db_replication_lag", "Lag measured by the last gate check (-1 unknown).", []string{"group", "resource", "unit"}, nil)
	descFenced    = prometheus.NewDesc("xhad_peer_fenced", "1 while the peer fence is in place.", nil, nil)
	descIsolated  = prometheus.NewDesc("xhad_isolated", "1 while this node hears its peer on no link and reaches no ping target (on-isolation = stop).", nil, nil)
	resourceState = []string{"running", "stopped", "failed", "unknown"}
	roles         = []string{"STANDBY", "STARTING", "ACTIVE", "STOPPING", "FAILED"}
)

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		d: d,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhad_decisions_total", Help: "Decisions and transitions logged, by event (takeover, failover, refused, split-brain, transition ...) and level.",
		}, []string{"event", "level"}),
		opSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xhad_group_operation_seconds", Help: "Duration of group starts and stops.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"group", "op", "result"}),
		reg: prometheus.NewRegistry(),
	}
	m.reg.MustRegister(m, m.decisions, m.opSeconds)
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRole, descGen, descEpoch, descPeer, descMaint, descFlap, descLinkUp, descLinkAge, descRx, descTx, descDropped, descResState, descFenced, descIsolated, descGate, descGateForce, descLag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: a snapshot from the loop.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp := m.d.handleControl(ctx, control.Request{Cmd: "status"})
	if !resp.OK {
		return
	}
	st, err := DecodeStatus(resp.Data)
	if err != nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	gauge(descEpoch, float64(st.Epoch))
	gauge(descPeer, b(st.Peer.Alive), st.Peer.Node)
	gauge(descMaint, b(st.Maintenance))
	gauge(descFlap, b(st.FlapHold))
	gauge(descFenced, b(st.Fencing.PeerFenced))
	gauge(descIsolated, b(st.Isolated))
	for _, l := range st.Links {
		gauge(descLinkUp, b(l.Up), l.Name)
		age := -1.0
		if l.AgeMillis >= 0 {
			age = float64(l.AgeMillis) / 1000
		}
		gauge(descLinkAge, age, l.Name)
		counter(descRx, float64(l.Rx), l.Name)
		counter(descTx, float64(l.Tx), l.Name)
		for reason, n := range l.Dropped {
			counter(descDropped, float64(n), l.Name, reason)
		}
	}
	for group, rs := range m.d.res {
		for name, r := range rs {
			db, ok := r.(*resources.Database)
			if !ok {
				continue
			}
			if g := db.LastGate(); g != nil {
				gauge(descGate, b(g.Promotable), group, name)
				gauge(descGateForce, b(g.Forced), group, name)
				gauge(descLag, float64(g.LagBytes), group, name, "bytes")
				gauge(descLag, float64(g.LagSeconds), group, name, "seconds")
				gauge(descLag, float64(g.LagTrx), group, name, "transactions")
			}
		}
	}
	for _, g := range st.Groups {
		for _, r := range roles {
			gauge(descRole, b(g.Role == r), g.Name, r)
		}
		gauge(descGen, float64(g.Gen), g.Name)
		for _, res := range g.Resources {
			for _, s := range resourceState {
				gauge(descResState, b(res.State == s), g.Name, res.Name, s)
			}
		}
	}
}

// serveMetrics listens on the configured address until ctx ends.
func (d *Daemon) serveMetrics(ctx context.Context, wg *sync.WaitGroup) error {
	ln, err := net.Listen("tcp", d.plan.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics on %s: %w (set metrics-address to a free local address, or \"\" to turn metrics off)", d.plan.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server stopped", "why", err.Error())
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	d.log.Info("metrics served", "address", ln.Addr().String())
	return nil
}

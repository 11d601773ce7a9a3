package dsl

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// RenderText writes the normalised plan for `xhad check-config`: every
// default filled in, timings with their ticks, and per group the resources,
// the start order and the stop order in stages, parallel stages marked.
func RenderText(w io.Writer, p *Plan) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	out := &textOut{w: tw}

	out.line("xhad plan from %s", p.File)
	out.line("")
	out.row("cluster", p.Cluster)
	out.row("auth-key-file", p.AuthKeyFile)
	out.row("state-dir", p.StateDir)
	out.row("control-socket", p.ControlSocket)
	out.row("metrics-address", orText(p.MetricsAddr, "off"))
	out.row("log-level", p.LogLevel)
	out.row("parallel", fmt.Sprintf("%d resources at once per group, unless the group says otherwise", p.Parallel))

	out.section("nodes")
	for _, n := range p.Nodes {
		parts := []string{"address " + n.Address}
		if n.Address2 != "" {
			parts = append(parts, "address2 "+n.Address2)
		}
		if n.SerialDevice != "" {
			parts = append(parts, fmt.Sprintf("serial %s at %d baud", n.SerialDevice, n.SerialBaud))
		}
		if n.PublicAddr != "" {
			parts = append(parts, "public "+n.PublicAddr)
		}
		out.row("  "+n.Name, strings.Join(parts, ", "))
	}

	out.section("links (heartbeats go over every link at once)")
	out.row("  udp", fmt.Sprintf("on, port %d", p.Links.UDPPort))
	out.row("  udp2", onOff(p.Links.UDP2, "on, port "+fmt.Sprint(p.Links.UDPPort), "off (needs address2 on both nodes)"))
	out.row("  serial", onOff(p.Links.Serial, fmt.Sprintf("on, %d baud", p.Nodes[0].SerialBaud), "off (needs serial-device on both nodes)"))

	out.section(fmt.Sprintf("timing (one tick = %s; the decision loop counts in ticks)", formatDuration(p.Timing.Tick)))
	for _, t := range []struct {
		name  string
		d     time.Duration
		ticks int
		note  string
	}{
		{"keepalive", p.Timing.Keepalive, p.Ticks.Keepalive, "a heartbeat on every link"},
		{"warntime", p.Timing.Warntime, p.Ticks.Warn, "a later heartbeat is logged as late"},
		{"deadtime", p.Timing.Deadtime, p.Ticks.Dead, "silent on every link this long: the peer is dead"},
		{"initdead", p.Timing.Initdead, p.Ticks.Initdead, "at start-up, wait this long for the peer"},
		{"monitor-interval", p.Timing.MonitorInterval, p.Ticks.Monitor, "probe the resources"},
	} {
		out.row("  "+t.name, formatDuration(t.d), fmt.Sprintf("%d ticks", t.ticks), t.note)
	}

	out.section("failover")
	out.row("  auto-failback", onOff(p.Failover.AutoFailback, "on: a group moves back to its preferred node", "off: moves are one-shot"))
	if len(p.Failover.PingTargets) == 0 {
		out.row("  ping-targets", "none (no tie-breaker)")
	} else {
		out.row("  ping-targets", strings.Join(p.Failover.PingTargets, ", ")+fmt.Sprintf(" (tie-breaker; timeout %s)", formatDuration(p.Failover.PingTimeout)))
		if p.Failover.OnIsolation == "stop" {
			out.row("  on-isolation", "stop: an isolated active node self-fences and stops its groups",
				fmt.Sprintf("automatic takeovers wait isolation-grace %s (%d ticks)", formatDuration(p.Failover.IsolationGrace), p.Ticks.IsolationGrace))
		} else {
			out.row("  on-isolation", "keep: an isolated active node keeps its groups (both may run them until the links heal)")
		}
	}
	if p.Failover.MaxTakeovers == 0 {
		out.row("  max-takeovers", "unlimited")
	} else {
		out.row("  max-takeovers", fmt.Sprintf("%d per %s (%d ticks), then wait for an operator", p.Failover.MaxTakeovers, formatDuration(p.Failover.FlapWindow), p.Ticks.FlapWindow))
	}

	f := p.Fencing
	out.section(fmt.Sprintf("fencing (nftables table inet %s)", f.Table))
	out.row("  peer-fence", onOff(f.PeerFence, "on: after a takeover, drop the peer's TCP ports "+joinInts(f.ReplicationPorts), "off"))
	selfFence := "off"
	if f.SelfFence {
		selfFence = "on: a losing node cuts its service IPs"
		if len(f.ServiceInterfaces) > 0 {
			selfFence += " and forwarding on " + strings.Join(f.ServiceInterfaces, ", ")
		}
	}
	out.row("  self-fence", selfFence)
	out.row("  fence-peer-timeout", formatDuration(f.FencePeerTimeout))
	if f.WatchdogDevice == "" {
		out.row("  watchdog", "off")
	} else {
		out.row("  watchdog", fmt.Sprintf("%s, timeout %s (deadtime %s)", f.WatchdogDevice, formatDuration(f.WatchdogTimeout), formatDuration(p.Timing.Deadtime)))
	}

	out.section("tools")
	for _, t := range [][2]string{{"xl", p.Tools.XL}, {"drbdadm", p.Tools.Drbdadm}, {"vgchange", p.Tools.Vgchange}, {"vgs", p.Tools.Vgs}} {
		where := "(looked up in PATH when run)"
		if strings.HasPrefix(t[1], "/") {
			where = ""
		}
		out.row("  "+t[0], t[1], where)
	}

	if len(p.Groups) == 0 {
		out.section("groups: none (heartbeats only)")
	}
	for _, g := range p.Groups {
		renderGroup(out, g)
	}
	renderDatabases(out, p)
	if out.err != nil {
		return fmt.Errorf("render plan: %w", out.err)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("render plan: %w", err)
	}
	return nil
}

func renderGroup(out *textOut, g Group) {
	preferred := "preferred: none, the node whose name sorts first wins at start-up"
	if g.Preferred != "" {
		preferred = "preferred node " + g.Preferred
	}
	restarts := fmt.Sprintf("up to %d local restarts per %s, then failover", g.MaxRestarts, formatDuration(g.RestartWindow))
	if g.MaxRestarts == 0 {
		restarts = "no local restarts: a failed resource fails the group over"
	}
	out.section(fmt.Sprintf("group %s: %s; %s", g.Name, preferred, restarts))
	out.line("  resources, in start order")
	for _, r := range g.Resources {
		after := "-"
		if len(r.After) > 0 {
			after = "after " + shortList(r.After, 4)
		}
		monitor := "monitored"
		if !r.Monitor {
			monitor = "not monitored"
		}
		out.row("    "+r.Name, string(r.Kind), describeResource(r), after,
			fmt.Sprintf("start %s, stop %s, %s", formatDuration(r.StartTimeout), formatDuration(r.StopTimeout), monitor))
	}
	parallel := fmt.Sprintf("in parallel, at most %d at once", g.Parallel)
	order := "stages"
	if g.StrictOrder {
		order = "strict order"
	}
	out.line("  start (%s)", order)
	renderStages(out, g.StartStages(), parallel)
	if g.ExplicitStopOrder {
		out.line("  stop (explicit stop-order, one after another)")
	} else {
		out.line("  stop (reverse start order)")
	}
	renderStages(out, g.StopStages(), parallel)
	for _, r := range g.Resources {
		if !r.Exclusive() {
			out.line("  %s runs on both nodes all the time: a failover does not stop it", r.Name)
		}
	}
}

func renderStages(out *textOut, stages [][]string, parallel string) {
	for i, stage := range stages {
		note := ""
		if len(stage) > 1 {
			note = fmt.Sprintf("(%d %s)", len(stage), parallel)
		}
		lines := wrapNames(stage, 80)
		for j, l := range lines {
			n := ""
			if j == 0 {
				n = fmt.Sprintf("%d.", i+1)
			}
			if j == len(lines)-1 {
				l = strings.TrimSpace(l + " " + note)
			}
			out.row("    "+n, l)
		}
	}
}

func renderDatabases(out *textOut, p *Plan) {
	first := true
	for _, g := range p.Groups {
		for _, r := range g.Resources {
			d := r.Database
			if d == nil {
				continue
			}
			if first {
				out.section("databases (replication gates, checked before promotion)")
				first = false
			}
			out.row("  "+r.Name, fmt.Sprintf("%s, group %s", d.Engine, g.Name))
			for _, n := range p.Nodes {
				out.row("    "+n.Name, d.Addresses[n.Name])
			}
			out.row("    database", orText(d.Database, "(none)"))
			out.row("    credentials", d.CredentialsFile)
			if d.Engine == EnginePostgreSQL {
				out.row("    max lag", fmt.Sprintf("%d bytes of WAL", d.MaxLagBytes))
			} else {
				out.row("    max lag", fmt.Sprintf("%s behind master, %d transactions (GTID)", formatDuration(d.MaxLagSeconds), d.MaxLagTrx))
			}
			out.row("    timeouts", fmt.Sprintf("catch-up %s, connect %s", formatDuration(d.CatchupTimeout), formatDuration(d.ConnectTimeout)))
		}
	}
}

func describeResource(r Resource) string {
	switch {
	case r.DRBD != nil:
		return "DRBD resource " + r.DRBD.Resource
	case r.LVM != nil:
		return "volume group " + r.LVM.VolumeGroup
	case r.Xen != nil:
		return fmt.Sprintf("domain %s from %s, %s, shutdown %s", r.Xen.Domain, r.Xen.Config, r.Xen.Mode, formatDuration(r.Xen.ShutdownTimeout))
	case r.IP != nil:
		lifetime := "permanent"
		if r.IP.Lifetime > 0 {
			lifetime = "lifetime " + formatDuration(r.IP.Lifetime) + ", refreshed"
		}
		return fmt.Sprintf("%s on %s, %s, %d gratuitous ARPs", r.IP.Address, r.IP.Interface, lifetime, r.IP.ARPCount)
	case r.Systemd != nil:
		return "unit " + r.Systemd.Unit
	case r.Exec != nil && r.Exec.Script != "":
		return "script " + r.Exec.Script
	case r.Exec != nil:
		s := fmt.Sprintf("agent %s in %s", r.Exec.Agent, r.Exec.OCFRoot)
		if len(r.Exec.Params) > 0 {
			var kv []string
			for _, k := range sortedKeys(r.Exec.Params) {
				kv = append(kv, k+"="+r.Exec.Params[k])
			}
			s += " with " + strings.Join(kv, " ")
		}
		return s
	case r.Database != nil:
		return fmt.Sprintf("%s replication gate (see databases)", r.Database.Engine)
	}
	return ""
}

// shortList joins names, eliding the middle of long lists.
func shortList(names []string, limit int) string {
	if len(names) <= limit {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:limit-1], ", "), len(names)-limit+1)
}

// wrapNames joins names with ", " into lines of at most width bytes (a
// single long name may exceed it).
func wrapNames(names []string, width int) []string {
	var lines []string
	cur := ""
	for i, n := range names {
		if i < len(names)-1 {
			n += ","
		}
		if cur != "" && len(cur)+1+len(n) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += n
	}
	return append(lines, cur)
}

func joinInts(ns []int) string {
	if len(ns) == 0 {
		return "(none)"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func onOff(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// textOut writes rows into a tabwriter and keeps the first write error.
type textOut struct {
	w   *tabwriter.Writer
	err error
}

func (o *textOut) line(format string, args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format+"\n", args...)
	}
}

// row writes cells separated by tabs, so columns line up within a block.
func (o *textOut) row(cells ...string) {
	if o.err == nil {
		_, o.err = fmt.Fprintln(o.w, strings.Join(cells, "\t"))
	}
}

// section starts a new block under a title. The tabwriter aligns a column
// across consecutive lines that have it, so the title line, which has no
// tab, also starts a new alignment block.
func (o *textOut) section(title string) {
	o.line("")
	o.line("%s", title)
}

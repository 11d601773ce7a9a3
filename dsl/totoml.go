package dsl

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteTOML writes the plan back as a configuration file with every default
// written out and every dependency explicit. Parsing the result gives the
// same plan (the fuzz test checks this), so it also serves to show a
// sysadmin what xhad understood.
func WriteTOML(w io.Writer, p *Plan) error {
	e := &tomlOut{}
	e.comment("normalised by xhad from " + p.File + ": every default written out")
	e.kv("cluster", p.Cluster)
	e.kv("auth-key-file", p.AuthKeyFile)
	e.kv("state-dir", p.StateDir)
	e.kv("control-socket", p.ControlSocket)
	e.kv("metrics-address", p.MetricsAddr)
	e.kv("log-level", p.LogLevel)
	e.kv("parallel", p.Parallel)

	e.table("links")
	e.kv("udp-port", p.Links.UDPPort)
	e.kv("serial-baud", p.Links.SerialBaud)

	for _, n := range p.Nodes {
		e.arrayTable("node")
		e.kv("name", n.Name)
		e.kv("address", n.Address)
		if n.Address2 != "" {
			e.kv("address2", n.Address2)
		}
		if n.SerialDevice != "" {
			e.kv("serial-device", n.SerialDevice)
			e.kv("serial-baud", n.SerialBaud)
		}
		if n.PublicAddr != "" {
			e.kv("public-address", n.PublicAddr)
		}
	}

	t := p.Timing
	e.table("timing")
	e.kv("tick", t.Tick)
	e.kv("keepalive", t.Keepalive)
	e.kv("warntime", t.Warntime)
	e.kv("deadtime", t.Deadtime)
	e.kv("initdead", t.Initdead)
	e.kv("monitor-interval", t.MonitorInterval)

	f := p.Failover
	e.table("failover")
	e.kv("auto-failback", f.AutoFailback)
	e.kv("ping-targets", f.PingTargets)
	e.kv("ping-timeout", f.PingTimeout)
	e.kv("on-isolation", f.OnIsolation)
	e.kv("isolation-grace", f.IsolationGrace)
	e.kv("max-takeovers", f.MaxTakeovers)
	e.kv("flap-window", f.FlapWindow)

	fe := p.Fencing
	e.table("fencing")
	e.kv("peer-fence", fe.PeerFence)
	e.kv("self-fence", fe.SelfFence)
	e.kv("table", fe.Table)
	ports := make([]int64, len(fe.ReplicationPorts))
	for i, port := range fe.ReplicationPorts {
		ports[i] = int64(port)
	}
	e.kv("replication-ports", ports)
	e.kv("service-interfaces", fe.ServiceInterfaces)
	e.kv("fence-peer-timeout", fe.FencePeerTimeout)
	e.kv("watchdog-device", fe.WatchdogDevice)
	e.kv("watchdog-timeout", fe.WatchdogTimeout)

	e.table("tools")
	e.kv("xl", p.Tools.XL)
	e.kv("drbdadm", p.Tools.Drbdadm)
	e.kv("vgchange", p.Tools.Vgchange)
	e.kv("vgs", p.Tools.Vgs)

	for _, g := range p.Groups {
		e.arrayTable("group")
		e.kv("name", g.Name)
		if g.Preferred != "" {
			e.kv("preferred", g.Preferred)
		}
		e.kv("parallel", g.Parallel)
		e.kv("strict-order", g.StrictOrder)
		e.kv("max-restarts", g.MaxRestarts)
		e.kv("restart-window", g.RestartWindow)
		if g.ExplicitStopOrder {
			e.kv("stop-order", g.StopOrder)
		}
		for _, r := range g.Resources {
			writeResource(e, r)
		}
	}
	_, err := io.WriteString(w, e.b.String())
	if err != nil {
		return fmt.Errorf("write plan as TOML: %w", err)
	}
	return nil
}

func writeResource(e *tomlOut, r Resource) {
	e.arrayTable("group.resource")
	e.kv("name", r.Name)
	e.kv("kind", string(r.Kind))
	if len(r.After) > 0 {
		e.kv("after", r.After)
	}
	e.kv("start-timeout", r.StartTimeout)
	e.kv("stop-timeout", r.StopTimeout)
	e.kv("monitor", r.Monitor)
	switch {
	case r.DRBD != nil:
		e.kv("resource", r.DRBD.Resource)
	case r.LVM != nil:
		e.kv("volume-group", r.LVM.VolumeGroup)
	case r.Xen != nil:
		e.kv("domain", r.Xen.Domain)
		e.kv("config", r.Xen.Config)
		e.kv("mode", string(r.Xen.Mode))
		e.kv("shutdown-timeout", r.Xen.ShutdownTimeout)
	case r.IP != nil:
		e.kv("address", r.IP.Address)
		e.kv("interface", r.IP.Interface)
		e.kv("lifetime", r.IP.Lifetime)
		e.kv("arp-count", r.IP.ARPCount)
	case r.Systemd != nil:
		e.kv("unit", r.Systemd.Unit)
	case r.Exec != nil && r.Exec.Script != "":
		e.kv("script", r.Exec.Script)
	case r.Exec != nil:
		e.kv("agent", r.Exec.Agent)
		e.kv("ocf-root", r.Exec.OCFRoot)
		if len(r.Exec.Params) > 0 {
			e.kv("params", r.Exec.Params)
		}
	case r.Database != nil:
		d := r.Database
		e.kv("engine", string(d.Engine))
		e.kv("addresses", d.Addresses)
		e.kv("database", d.Database)
		e.kv("credentials-file", d.CredentialsFile)
		if d.Engine == EnginePostgreSQL {
			e.kv("max-lag-bytes", d.MaxLagBytes)
		} else {
			e.kv("max-lag-seconds", d.MaxLagSeconds)
			e.kv("max-lag-transactions", d.MaxLagTrx)
		}
		e.kv("catchup-timeout", d.CatchupTimeout)
		e.kv("connect-timeout", d.ConnectTimeout)
	}
}

// tomlOut builds a TOML document.
type tomlOut struct {
	b      strings.Builder
	indent string
}

// comment writes s as a comment line; control characters, which a TOML
// comment may not hold, become "?".
func (e *tomlOut) comment(s string) {
	clean := strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	e.b.WriteString("# " + clean + "\n")
}

func (e *tomlOut) table(name string) {
	e.b.WriteString("\n[" + name + "]\n")
	e.indent = ""
}

func (e *tomlOut) arrayTable(name string) {
	e.indent = strings.Repeat("  ", strings.Count(name, "."))
	e.b.WriteString("\n" + e.indent + "[[" + name + "]]\n")
}

func (e *tomlOut) kv(key string, v any) {
	switch x := v.(type) {
	case int:
		v = int64(x)
	case time.Duration, string, bool, int64, []string, []int64, map[string]string:
	default:
		panic(fmt.Sprintf("dsl: WriteTOML cannot write %T", v))
	}
	if s, ok := v.([]string); ok && s == nil {
		v = []string{}
	}
	e.b.WriteString(e.indent + tomlKey(key) + " = " + formatTOMLValue(v) + "\n")
}

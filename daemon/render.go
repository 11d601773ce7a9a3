package daemon

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// RenderStatus writes the status for humans: node and peer, links with the
// age of their last heartbeat, groups with their resources, fencing, and the
// last decision with its reason.
func RenderStatus(w io.Writer, r StatusReport, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	flags := ""
	if r.Maintenance {
		flags += "  MAINTENANCE"
	}
	if r.FlapHold {
		flags += "  FLAP-HOLD (acknowledge with xhad takeover)"
	}
	if r.ShuttingDown {
		flags += "  SHUTTING DOWN"
	}
	if r.Isolated {
		flags += "  ISOLATED (no link to the peer, no ping target)"
	}
	fmt.Fprintf(tw, "node\t%s (cluster %s, epoch %d, up %s)%s\n", r.Node, r.Cluster, r.Epoch, since(r.StartedAt, now), flags)
	peer := r.Peer.Node + ": "
	switch {
	case r.Peer.Alive:
		peer += "alive"
	case r.Peer.Left:
		peer += "left (said goodbye)"
	case r.Peer.Known:
		peer += "DEAD (" + r.Peer.DeadReason + ")"
	default:
		peer += "not seen since start"
	}
	if r.Peer.Maintenance {
		peer += ", in maintenance"
	}
	fmt.Fprintf(tw, "peer\t%s\n", peer)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LINK\tSTATE\tLAST HEARD\tRX\tTX\tDROPPED")
	for _, l := range r.Links {
		state := "down"
		if l.Up {
			state = "up"
			if l.Late {
				state = "late"
			}
		}
		age := "never"
		if l.AgeMillis >= 0 {
			age = (time.Duration(l.AgeMillis) * time.Millisecond).String() + " ago"
		}
		var drops []string
		for k, v := range l.Dropped {
			drops = append(drops, fmt.Sprintf("%s=%d", k, v))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", l.Name, state, age, l.Rx, l.Tx, strings.Join(sorted(drops), " "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GROUP/RESOURCE\tSTATE\tSINCE\tDETAIL")
	for _, g := range r.Groups {
		detail := g.Waiting
		if g.Progress != "" {
			detail = g.Progress
		}
		peerRole := ""
		if g.PeerRole != "" {
			peerRole = " (peer " + g.PeerRole + ")"
		}
		fmt.Fprintf(tw, "%s\t%s%s\t\tgeneration %d %s\n", g.Name, g.Role, peerRole, g.Gen, detail)
		for _, res := range g.Resources {
			kind := res.Kind
			if !res.Exclusive {
				kind += ", both"
			}
			fmt.Fprintf(tw, "  %s (%s)\t%s\t%s\t%s\n", res.Name, kind, res.State, since(res.Since, now), res.Detail)
			if gt := res.Gate; gt != nil {
				line := "gate " + gt.Verdict
				if len(gt.Reasons) > 0 {
					line += ": " + strings.Join(gt.Reasons, "; ")
				}
				fmt.Fprintf(tw, "    \t\t\t%s (lag %s)\n", line, lagText(gt))
			}
		}
	}
	fmt.Fprintln(tw)
	fence := fmt.Sprintf("peer fence %s, self fence %s", onOff(r.Fencing.PeerFenceConfigured), onOff(r.Fencing.SelfFenceConfigured))
	if r.Fencing.PeerFenced {
		fence += "; peer FENCED"
	}
	if r.Fencing.LastError != "" {
		fence += "; last error: " + r.Fencing.LastError
	}
	for _, f := range r.Fencing.Installed {
		fence += fmt.Sprintf("; %s fence in place since %s (%s)", f.Kind, f.Since.Format(time.RFC3339), f.Why)
	}
	if r.Fencing.ReadError != "" {
		fence += "; cannot read nftables: " + r.Fencing.ReadError
	}
	fmt.Fprintf(tw, "fencing\t%s\n", fence)
	if d := r.LastDecision; d != nil {
		grp := ""
		if d.Group != "" {
			grp = d.Group + ": "
		}
		fmt.Fprintf(tw, "last decision\t%s%s (why: %s)\n", grp, d.Msg, d.Why)
	}
	return tw.Flush()
}

func since(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// lagText is a gate's measured lag, unknown parts left out.
func lagText(g *GateReport) string {
	var parts []string
	for _, l := range []struct {
		v    int64
		unit string
	}{{g.LagSeconds, "s"}, {g.LagTransactions, " transactions"}, {g.LagBytes, " bytes"}} {
		if l.v >= 0 {
			parts = append(parts, fmt.Sprintf("%d%s", l.v, l.unit))
		}
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, ", ")
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"xhad/dsl"
	"xhad/fence"
)

// Fencer installs the fences that need no power switch. The daemon's
// interface is the fence package's, with the groups a self fence is for
// named in the log.
type Fencer = fence.Fencer

// FenceConfig derives the nftables fence configuration from the plan: the
// peer's heartbeat-link addresses carry its replication traffic, the service
// interfaces come from fencing.service-interfaces, and the service addresses
// are the exclusive `ip` resources.
func FenceConfig(p *dsl.Plan, self string) fence.Config {
	peer := p.Peer(self)
	cfg := fence.Config{Table: p.Fencing.Table, ReplicationPorts: p.Fencing.ReplicationPorts, ServiceIfaces: p.Fencing.ServiceInterfaces}
	for _, a := range []string{peer.Address, peer.Address2} {
		if a == "" {
			continue
		}
		if ap, err := netip.ParseAddrPort(a); err == nil {
			cfg.PeerAddrs = append(cfg.PeerAddrs, ap.Addr())
		} else if ad, err := netip.ParseAddr(a); err == nil {
			cfg.PeerAddrs = append(cfg.PeerAddrs, ad)
		}
	}
	for _, g := range p.Groups {
		for _, r := range g.Resources {
			if r.IP != nil && r.Exclusive() {
				if pf, err := netip.ParsePrefix(r.IP.Address); err == nil {
					cfg.ServiceAddrs = append(cfg.ServiceAddrs, netip.PrefixFrom(pf.Addr(), pf.Addr().BitLen()))
				}
			}
		}
	}
	return cfg
}

// planFencer honours the configuration: a fence switched off is skipped
// with a warning in the log; one switched on is done by nftables and counts
// only when the read-back matched.
type planFencer struct {
	plan *dsl.Plan
	nft  Fencer
	log  *slog.Logger
}

func newPlanFencer(p *dsl.Plan, self string, nft Fencer, lg *slog.Logger) *planFencer {
	if nft == nil {
		nft = fence.NewNFT(FenceConfig(p, self))
	}
	return &planFencer{plan: p, nft: nft, log: lg}
}

func (f *planFencer) FencePeer(ctx context.Context, why string) error {
	if !f.plan.Fencing.PeerFence {
		f.log.Warn("peer fence skipped: switched off in the configuration (fencing.peer-fence = false)", "why", why)
		return nil
	}
	if err := f.nft.FencePeer(ctx, why); err != nil {
		return fmt.Errorf("peer fence: %w", err)
	}
	f.log.Warn("peer fenced: its replication traffic is dropped until `xhad unfence --peer`", "why", why)
	return nil
}

func (f *planFencer) SelfFence(ctx context.Context, why string) error {
	if !f.plan.Fencing.SelfFence {
		f.log.Warn("self fence skipped: switched off in the configuration (fencing.self-fence = false)", "why", why)
		return nil
	}
	err := f.nft.SelfFence(ctx, why)
	if errors.Is(err, fence.ErrNothingToFence) {
		f.log.Warn("self fence: nothing to cut (no service interfaces or exclusive ip resources configured)", "why", why)
		return nil
	}
	if err != nil {
		return fmt.Errorf("self fence: %w", err)
	}
	f.log.Warn("self-fenced: service traffic cut until `xhad unfence --self`", "why", why)
	return nil
}

func (f *planFencer) Unfence(ctx context.Context, peer, self bool) error {
	return f.nft.Unfence(ctx, peer, self)
}

func (f *planFencer) Fences(ctx context.Context) ([]fence.Fence, error) {
	if !f.plan.Fencing.PeerFence && !f.plan.Fencing.SelfFence {
		return nil, nil
	}
	return f.nft.Fences(ctx)
}

// selfFence runs the self fence for groups and logs the outcome.
func (d *Daemon) selfFence(ctx context.Context, groups []string, why string) {
	if err := d.fence.SelfFence(ctx, why); err != nil {
		d.log.Error("self fence failed", "group", strings.Join(groups, ","), "why", err.Error())
	}
}

// liftSelfFence removes a self fence left by an earlier loss (a split brain
// resolved, an isolation, a FAILED stop an operator has since dealt with)
// when this node starts group: it now holds it, through the handshake or
// after fencing its peer, and its domains must reach their clients. The
// fence stays while another group is FAILED or stopping here, since its
// domains may still run; the log says so.
func (d *Daemon) liftSelfFence(ctx context.Context, group, losing string) {
	if !d.plan.Fencing.SelfFence {
		return
	}
	fences, err := d.fence.Fences(ctx)
	if err != nil {
		d.log.Warn("cannot read the fences before starting; a self fence would stay", "group", group, "why", err.Error())
		return
	}
	for _, f := range fences {
		if f.Kind != fence.KindSelf {
			continue
		}
		if losing != "" {
			d.log.Warn("self fence kept: group "+losing+" may still run here; the service of "+group+" stays cut until `xhad unfence --self`",
				"group", group, "why", f.Why)
			return
		}
		if err := d.fence.Unfence(ctx, false, true); err != nil {
			d.log.Error("cannot lift the self fence; the group's service stays cut until `xhad unfence --self`", "group", group, "why", err.Error())
			return
		}
		d.log.Warn("self fence lifted: this node now holds the group", "group", group, "why", "installed since "+f.Since.Format(time.RFC3339)+" because: "+f.Why)
		return
	}
}

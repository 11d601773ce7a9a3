package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

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

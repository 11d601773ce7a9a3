package daemon

import (
	"context"
	"errors"
	"log/slog"

	"xhad/dsl"
)

// Fencer installs the fences that need no power switch.
type Fencer interface {
	// FencePeer makes sure the peer cannot take part any more (nftables drop
	// of its replication traffic). It returns nil only when the fence is in
	// place, or when the configuration has it switched off.
	FencePeer(ctx context.Context, why string) error
	// SelfFence cuts this node's service traffic for the groups.
	SelfFence(ctx context.Context, groups []string, why string) error
}

// ErrFenceNotBuilt is returned while the nftables fence is not part of this
// build: a configuration that asks for it cannot be honoured, and the daemon
// says so instead of pretending.
var ErrFenceNotBuilt = errors.New("the nftables fence is not built in this version of xhad; set fencing.peer-fence = false and fencing.self-fence = false to run without it")

type configFencer struct {
	plan *dsl.Plan
	log  *slog.Logger
}

func defaultFencer(p *dsl.Plan, lg *slog.Logger) Fencer { return configFencer{plan: p, log: lg} }

func (f configFencer) FencePeer(ctx context.Context, why string) error {
	if !f.plan.Fencing.PeerFence {
		f.log.Warn("peer fence skipped: switched off in the configuration (fencing.peer-fence = false)", "why", why)
		return nil
	}
	return ErrFenceNotBuilt
}

func (f configFencer) SelfFence(ctx context.Context, groups []string, why string) error {
	if !f.plan.Fencing.SelfFence {
		f.log.Warn("self fence skipped: switched off in the configuration (fencing.self-fence = false)", "why", why)
		return nil
	}
	return ErrFenceNotBuilt
}

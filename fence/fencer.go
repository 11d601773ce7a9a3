package fence

import "context"

// Fencer is what the daemon needs from the fences; *NFT implements it and
// fence/fencetest.Fake is a stateful fake for tests.
type Fencer interface {
	// FencePeer drops the peer's replication traffic until Unfence; idempotent.
	FencePeer(ctx context.Context, why string) error
	// SelfFence cuts this node's service interfaces and addresses; idempotent.
	SelfFence(ctx context.Context, why string) error
	// Unfence removes the peer fence, the self fence, or both.
	Unfence(ctx context.Context, peer, self bool) error
	// Fences reports what is installed, read back from where it lives.
	Fences(ctx context.Context) ([]Fence, error)
}

var _ Fencer = (*NFT)(nil)

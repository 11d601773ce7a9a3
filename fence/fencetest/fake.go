// Package fencetest provides a stateful fake fence.Fencer for tests of the
// daemon: it remembers the installed fences (and the rules fence.Render
// gives for them), the way the kernel's table would, and can be told to fail.
package fencetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"xhad/fence"
)

// Fake is a fence.Fencer that keeps its table in memory. The zero value is
// not usable; call New.
type Fake struct {
	mu    sync.Mutex
	cfg   fence.Config
	now   func() time.Time
	peer  *fence.Fence
	self  *fence.Fence
	fail  map[string]error
	calls []string
}

// New returns a fake for cfg; now gives the install times (nil = time.Now).
func New(cfg fence.Config, now func() time.Time) *Fake {
	if now == nil {
		now = time.Now
	}
	return &Fake{cfg: cfg, now: now, fail: map[string]error{}}
}

var _ fence.Fencer = (*Fake)(nil)

// Fail makes every later call of op ("FencePeer", "SelfFence", "Unfence",
// "Fences") return err and change nothing; a nil err clears it.
func (f *Fake) Fail(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, op)
		return
	}
	f.fail[op] = err
}

// Calls returns the operations called so far, e.g. "FencePeer(peer dead)".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Rules returns what the kernel table would hold now.
func (f *Fake) Rules() ([]fence.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fence.Render(f.cfg, f.peer, f.self)
}

func (f *Fake) start(op string) error {
	f.calls = append(f.calls, op)
	name := op
	for i, c := range op {
		if c == '(' {
			name = op[:i]
			break
		}
	}
	if err := f.fail[name]; err != nil {
		return fmt.Errorf("fake fence %s: %w", name, err)
	}
	return nil
}

// set installs the wanted fences if fence.Render accepts them.
func (f *Fake) set(peer, self *fence.Fence) error {
	if _, err := fence.Render(f.cfg, peer, self); err != nil {
		return err
	}
	f.peer, f.self = peer, self
	return nil
}

// FencePeer implements fence.Fencer.
func (f *Fake) FencePeer(ctx context.Context, why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start("FencePeer(" + why + ")"); err != nil {
		return err
	}
	if f.peer != nil {
		return nil
	}
	return f.set(&fence.Fence{Kind: fence.KindPeer, Since: f.now().UTC().Truncate(time.Second), Why: why}, f.self)
}

// SelfFence implements fence.Fencer.
func (f *Fake) SelfFence(ctx context.Context, why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start("SelfFence(" + why + ")"); err != nil {
		return err
	}
	if f.self != nil {
		return nil
	}
	return f.set(f.peer, &fence.Fence{Kind: fence.KindSelf, Since: f.now().UTC().Truncate(time.Second), Why: why})
}

// Unfence implements fence.Fencer.
func (f *Fake) Unfence(ctx context.Context, peer, self bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(fmt.Sprintf("Unfence(peer=%t,self=%t)", peer, self)); err != nil {
		return err
	}
	if peer {
		f.peer = nil
	}
	if self {
		f.self = nil
	}
	return nil
}

// Fences implements fence.Fencer.
func (f *Fake) Fences(ctx context.Context) ([]fence.Fence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["Fences"]; err != nil {
		return nil, fmt.Errorf("fake fence Fences: %w", err)
	}
	var out []fence.Fence
	for _, x := range []*fence.Fence{f.peer, f.self} {
		if x != nil {
			out = append(out, *x)
		}
	}
	return out, nil
}

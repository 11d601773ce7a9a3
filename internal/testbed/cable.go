package testbed

import (
	"testing"

	"xhad/internal/ptycable"
)

// Cable is the serial cable of a Pair.
type Cable = ptycable.Cable

// NewCable opens a PTY cable that the test closes.
func NewCable(t testing.TB) *Cable {
	t.Helper()
	c, err := ptycable.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

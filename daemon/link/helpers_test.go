package link_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"xhad/daemon/link"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
)

const testCluster = "xen-pair"

// codecs returns the codecs of the two nodes "a" and "b" of the test cluster.
func codecs() (a, b *link.Codec) {
	return link.NewCodec(testKey, testCluster, "a"), link.NewCodec(testKey, testCluster, "b")
}

// mustSeal seals m with c or fails the test.
func mustSeal(t testing.TB, c *link.Codec, m link.Message) []byte {
	t.Helper()
	f, err := c.Seal(m)
	if err != nil {
		t.Fatalf("seal %+v: %v", m, err)
	}
	return f
}

// reMAC recomputes the MAC of a frame that a test altered, as a sender
// holding the key would.
func reMAC(key, frame []byte) []byte {
	out := append([]byte(nil), frame...)
	n := len(out) - sha256.Size
	h := hmac.New(sha256.New, key)
	h.Write(out[:n])
	copy(out[n:], h.Sum(nil))
	return out
}

// waitFor polls cond until it holds or timeout passes; on failure it prints
// what cond last saw.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; last seen: %s", timeout, what, seen)
		}
		<-tick.C
	}
}

// receive waits for the next message on out.
func receive(t testing.TB, out <-chan link.Received, timeout time.Duration) link.Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-out:
		return r
	case <-timer.C:
		t.Fatalf("no message within %s", timeout)
		return link.Received{}
	}
}

// expectNone checks that nothing is waiting on out right now.
func expectNone(t testing.TB, out <-chan link.Received) {
	t.Helper()
	select {
	case r := <-out:
		t.Fatalf("unexpected message on link %s: %+v", r.Link, r.Msg)
	default:
	}
}

func sameMessage(got, want link.Message) error {
	if got.Cluster != want.Cluster || got.From != want.From || got.Epoch != want.Epoch ||
		got.Seq != want.Seq || got.Kind != want.Kind || !bytes.Equal(got.Body, want.Body) {
		return fmt.Errorf("got %+v, want %+v", got, want)
	}
	return nil
}

// droppedString renders a Dropped map for failure messages.
func droppedString(s link.Stats) string {
	return fmt.Sprintf("rx=%d tx=%d dropped=%v reconnects=%d", s.Rx, s.Tx, s.Dropped, s.Reconnects)
}

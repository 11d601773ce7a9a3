package sim

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkXLCreateDestroy measures one simulated `xl create` plus `xl
// destroy` on a real state directory (locking, journal and state fsyncs),
// with no configured delays: the simulator's own cost per operation pair.
func BenchmarkXLCreateDestroy(b *testing.B) {
	dir := b.TempDir()
	if err := Init(dir, InitOptions{Nodes: [2]string{"a", "b"}}); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(b.TempDir(), "x.cfg")
	if err := os.WriteFile(cfg, []byte("name = \"x\"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, errOut, code := Exec(dir, "a", "xl", "create", cfg); code != 0 {
			b.Fatal(errOut)
		}
		if _, errOut, code := Exec(dir, "a", "xl", "destroy", "x"); code != 0 {
			b.Fatal(errOut)
		}
	}
}

// BenchmarkDrbdadmStatus measures a read-only query (lock, load, render).
func BenchmarkDrbdadmStatus(b *testing.B) {
	dir := b.TempDir()
	if err := Init(dir, InitOptions{Nodes: [2]string{"a", "b"}, DRBD: r0("", "")}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, errOut, code := Exec(dir, "a", "drbdadm", "status", "r0"); code != 0 {
			b.Fatal(errOut)
		}
	}
}

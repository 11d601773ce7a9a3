package dsl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(examplesDir, "lvm-over-drbd.toml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("x.toml", data, Options{SkipFileChecks: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseManyDomains parses a group of 300 domains.
func BenchmarkParseManyDomains(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(minimal + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r0\"\nkind = \"drbd\"\n")
	for i := range 300 {
		fmt.Fprintf(&buf, "[[group.resource]]\nname = \"d%d\"\nkind = \"xen\"\nconfig = \"/etc/xen/d%d.cfg\"\n", i, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("x.toml", data, Options{SkipFileChecks: true}); err != nil {
			b.Fatal(err)
		}
	}
}

package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary text. It must never panic; a rejected text
// must give an *Errors whose every problem has a position; an accepted plan
// must render, marshal, and survive a round trip through WriteTOML unchanged
// (it re-validates). The seed corpus in testdata/fuzz/FuzzParse holds the
// examples and the bad configurations of the table tests.
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(examplesDir, "*.toml"))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, bad := range badConfigs {
		f.Add([]byte(bad.toml))
	}
	f.Add([]byte(everyKind))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.toml", data, Options{SkipFileChecks: true})
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.Problems) == 0 {
				t.Fatalf("error is not a non-empty *Errors: %#v", err)
			}
			for _, pr := range errs.Problems {
				if pr.Line < 1 || pr.Col < 1 || pr.Msg == "" {
					t.Fatalf("problem without position or message: %#v", pr)
				}
			}
			return
		}
		checkRoundTrip(t, "fuzz.toml", data)
		if err := RenderText(&bytes.Buffer{}, p); err != nil {
			t.Fatalf("RenderText: %v", err)
		}
		raw, err := json.Marshal(p)
		if err != nil || !json.Valid(raw) {
			t.Fatalf("MarshalJSON: %v\n%s", err, raw)
		}
	})
}

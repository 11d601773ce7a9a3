package link_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xhad/daemon/link"
)

func TestLoadKey(t *testing.T) {
	key32 := bytes.Repeat([]byte{0x5A}, 32)
	tests := []struct {
		name     string
		content  []byte // nil: no file
		mode     os.FileMode
		dir      bool
		wantErr  []string // substrings of the error; none: success
		wantSize int
	}{
		{name: "0600 32 bytes", content: key32, mode: 0o600, wantSize: 32},
		{name: "0400 exactly 16 bytes", content: key32[:16], mode: 0o400, wantSize: 16},
		{name: "group readable", content: key32, mode: 0o640, wantErr: []string{"mode 0640", "chmod 600"}},
		{name: "world readable", content: key32, mode: 0o604, wantErr: []string{"mode 0604", "chmod 600"}},
		{name: "group writable only", content: key32, mode: 0o620, wantErr: []string{"chmod 600"}},
		{name: "too short", content: key32[:15], mode: 0o600, wantErr: []string{"15 bytes", "at least 16", "head -c 32 /dev/urandom >"}},
		{name: "empty", content: []byte{}, mode: 0o600, wantErr: []string{"0 bytes", "head -c 32 /dev/urandom >"}},
		{name: "missing", wantErr: []string{"no such file", "head -c 32 /dev/urandom >", "chmod 600"}},
		{name: "directory", dir: true, wantErr: []string{"not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "authkey")
			switch {
			case tt.dir:
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			case tt.content != nil:
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			key, err := link.LoadKey(path)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("LoadKey: %v", err)
				}
				if len(key) != tt.wantSize || !bytes.Equal(key, tt.content) {
					t.Fatalf("key %x, want %x", key, tt.content)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadKey accepted it (%d bytes)", len(key))
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

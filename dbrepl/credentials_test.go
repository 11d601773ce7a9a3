package dbrepl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCredentials(t *testing.T) {
	cases := []struct {
		name, text     string
		mode           os.FileMode
		user, password string
		errHas         string
	}{
		{"colon", "ha:s3cr:et\n", 0o600, "ha", "s3cr:et", ""},
		{"kv", "# daemon account\nuser = ha\npassword=hapass\n", 0o600, "ha", "hapass", ""},
		{"kv owner only read", "user=ha\npassword=x", 0o400, "ha", "x", ""},
		{"group readable", "ha:x", 0o640, "", "", "chmod 600"},
		{"other readable", "ha:x", 0o604, "", "", "chmod 600"},
		{"no separator", "hapass\n", 0o600, "", "", "no ':'"},
		{"empty", "\n# nothing\n", 0o600, "", "", "no user"},
		{"mixed", "user=ha\nha:x\n", 0o600, "", "", "unexpected line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "cred")
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			u, pw, err := LoadCredentials(p)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil || u != tc.user || pw != tc.password {
				t.Fatalf("got %q %q %v, want %q %q", u, pw, err, tc.user, tc.password)
			}
		})
	}
	if _, _, err := LoadCredentials(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
}

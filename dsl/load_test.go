package dsl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretsConfig names the key file and a credentials file in dir; the
// credentials-file key is on line 17, column 3.
func secretsConfig(dir string) string {
	return `cluster = "pair"
auth-key-file = "` + dir + `/authkey"
[[node]]
name = "xen1"
address = "10.0.0.1"
[[node]]
name = "xen2"
address = "10.0.0.2"
[[group]]
name = "db"
  [[group.resource]]
  name = "gate"
  kind = "database"
  engine = "postgresql"
  addresses = { xen1 = "10.0.1.11", xen2 = "10.0.1.12" }
  # the credentials of the gate
  credentials-file = "` + dir + `/db.cred"
`
}

// writeSecret writes a file with content and mode (chmod, so the umask does
// not interfere).
func writeSecret(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoadChecksSecretFiles(t *testing.T) {
	const goodKey = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string)
		want   string // {dir} stands for the temporary directory
		notExi bool   // the error must wrap fs.ErrNotExist
	}{
		{
			name: "valid files",
			setup: func(t *testing.T, dir string) {
				writeSecret(t, dir+"/authkey", goodKey, 0o600)
				writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
			},
		},
		{
			name: "key file readable by others",
			setup: func(t *testing.T, dir string) {
				writeSecret(t, dir+"/authkey", goodKey, 0o644)
				writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
			},
			want: `{dir}/xhad.toml:2:1: auth-key-file: auth key file {dir}/authkey has mode 0644; group and others must have no access; run: chmod 600 {dir}/authkey`,
		},
		{
			name: "key file missing",
			setup: func(t *testing.T, dir string) {
				writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
			},
			want:   `{dir}/xhad.toml:2:1: auth-key-file: auth key file {dir}/authkey does not exist; create it on one node with: (umask 077; head -c 32 /dev/urandom > {dir}/authkey), then copy it to the other`,
			notExi: true,
		},
		{
			name: "key file too short",
			setup: func(t *testing.T, dir string) {
				writeSecret(t, dir+"/authkey", "12345678", 0o600)
				writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
			},
			want: `{dir}/xhad.toml:2:1: auth-key-file: auth key file {dir}/authkey has 8 bytes, need at least 16; write a longer key: (umask 077; head -c 32 /dev/urandom > {dir}/authkey), and copy it to the other node`,
		},
		{
			name: "key file is a directory",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(dir+"/authkey", 0o700); err != nil {
					t.Fatal(err)
				}
				writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
			},
			want: `{dir}/xhad.toml:2:1: auth-key-file: auth key file {dir}/authkey is not a regular file; point the key at a regular file`,
		},
		{
			name: "credentials file readable by the group",
			setup: func(t *testing.T, dir string) {
				writeSecret(t, dir+"/authkey", goodKey, 0o600)
				writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o640)
			},
			want: `{dir}/xhad.toml:17:3: group[0].resource[0].credentials-file: credentials file {dir}/db.cred has mode 0640; group and others must have no access; run: chmod 600 {dir}/db.cred`,
		},
		{
			name: "both files wrong at once",
			setup: func(t *testing.T, dir string) {
				writeSecret(t, dir+"/authkey", "short", 0o666)
				writeSecret(t, dir+"/db.cred", "", 0o600)
			},
			want: `{dir}/xhad.toml:2:1: auth-key-file: auth key file {dir}/authkey has 5 bytes, need at least 16; write a longer key: (umask 077; head -c 32 /dev/urandom > {dir}/authkey), and copy it to the other node
{dir}/xhad.toml:2:1: auth-key-file: auth key file {dir}/authkey has mode 0666; group and others must have no access; run: chmod 600 {dir}/authkey
{dir}/xhad.toml:17:3: group[0].resource[0].credentials-file: credentials file {dir}/db.cred has 0 bytes, need at least 1; write "user:password" into it`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			path := filepath.Join(dir, "xhad.toml")
			if err := os.WriteFile(path, []byte(secretsConfig(dir)), 0o644); err != nil {
				t.Fatal(err)
			}
			plan, err := Load(path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if plan.AuthKeyFile != dir+"/authkey" || plan.Groups[0].Resources[0].Database.CredentialsFile != dir+"/db.cred" {
					t.Errorf("plan has the wrong secret files: %q, %+v", plan.AuthKeyFile, plan.Groups[0].Resources[0].Database)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load accepted the configuration, want:\n%s", tc.want)
			}
			want := strings.ReplaceAll(tc.want, "{dir}", dir)
			if got := err.Error(); got != want {
				t.Errorf("wrong error\n got: %s\nwant: %s", got, want)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tc.notExi {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tc.notExi)
			}
			// Parse without file checks accepts the same text.
			if _, err := Parse(path, []byte(secretsConfig(dir)), Options{SkipFileChecks: true}); err != nil {
				t.Errorf("Parse with SkipFileChecks: %v", err)
			}
		})
	}
}

func TestLoadMissingConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.toml")
	_, err := Load(path)
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want *Errors: %v", err, err)
	}
	want := path + ": cannot read the configuration: open " + path + ": no such file or directory; check the path given with --config or XHAD_CONFIG"
	if err.Error() != want {
		t.Errorf("wrong error\n got: %s\nwant: %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error does not wrap fs.ErrNotExist: %v", err)
	}
}

func TestLoadRefusesSecretOwnedBySomeoneElse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	dir := t.TempDir()
	writeSecret(t, dir+"/authkey", "0123456789abcdef", 0o600)
	writeSecret(t, dir+"/db.cred", "xhad:secret\n", 0o600)
	if err := os.Chown(dir+"/authkey", 65534, 65534); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "xhad.toml")
	if err := os.WriteFile(path, []byte(secretsConfig(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + ":2:1: auth-key-file: auth key file " + dir + "/authkey is owned by uid 65534, not by uid 0 that runs xhad; its owner could change it; run: chown 0 " + dir + "/authkey"
	if err == nil || err.Error() != want {
		t.Errorf("wrong error\n got: %v\nwant: %s", err, want)
	}
}

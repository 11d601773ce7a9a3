package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"xhad/internal/testbed"
)

// TestCheckConfigCommand runs the real binary: every shipped example passes
// (with its secret files made in a temp dir), bad files fail with exit 1 and
// file:line:col messages, and --json is machine-readable.
func TestCheckConfigCommand(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"authkey": "0123456789abcdef0123456789abcdef", "db.cred": "xhad:secret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	examples, _ := filepath.Glob("packaging/examples/*.toml")
	if len(examples) < 4 {
		t.Fatalf("want the four shipped examples, found %v", examples)
	}
	ctx := context.Background()
	for _, ex := range examples {
		data, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer("/etc/xhad/authkey", dir+"/authkey", "/etc/xhad/db.cred", dir+"/db.cred").Replace(string(data))
		path := filepath.Join(dir, filepath.Base(ex))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := testbed.Run(ctx, t, nil, "check-config", "--config", path)
		if err != nil {
			t.Fatalf("check-config %s: %v\n%s", ex, err, out)
		}
		if !strings.Contains(out, "stop") {
			t.Errorf("check-config %s does not show the stop order:\n%s", ex, out)
		}
		out, err = testbed.Run(ctx, t, nil, "check-config", "--json", "--config", path)
		var plan map[string]any
		var jsonLines []string
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "warning: ") { // stderr, combined here
				jsonLines = append(jsonLines, line)
			}
		}
		if err != nil || json.Unmarshal([]byte(strings.Join(jsonLines, "\n")), &plan) != nil || plan["groups"] == nil {
			t.Errorf("check-config --json %s: %v\n%s", ex, err, out)
		}
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("cluster = \"x\"\nauth-key-file = \""+dir+"/authkey\"\n[timing]\nkeepalive = \"5 seconds\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := testbed.Run(ctx, t, nil, "check-config", "--config", bad)
	if code := exitCode(err); code != 1 {
		t.Fatalf("bad config: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{bad + ":4:1: timing.keepalive", bad + ":1:1: node"} {
		if !strings.Contains(out, want) {
			t.Errorf("bad config output lacks %q:\n%s", want, out)
		}
	}
	out, err = testbed.Run(ctx, t, []string{"XHAD_CONFIG=" + bad}, "check-config")
	if exitCode(err) != 1 || !strings.Contains(out, bad) {
		t.Errorf("XHAD_CONFIG is not honoured: %v\n%s", err, out)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// TestStatusWithoutDaemon: a clear message and a distinct exit code.
func TestStatusWithoutDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	out, err := testbed.Run(context.Background(), t, nil, "status", "--socket", sock)
	if exitCode(err) != 3 || !strings.Contains(out, "xhad is not running") {
		t.Fatalf("status without a daemon: %v\n%s", err, out)
	}
}

// TestFencePeerOutsideDRBD: run by hand, the handler refuses with a code
// DRBD reads as "not fenced", never 0 or 1.
func TestFencePeerOutsideDRBD(t *testing.T) {
	out, err := testbed.Run(context.Background(), t, []string{"DRBD_RESOURCE="}, "fence-peer")
	if exitCode(err) != 100 || !strings.Contains(out, "DRBD_RESOURCE") {
		t.Fatalf("fence-peer without DRBD's environment: %v\n%s", err, out)
	}
}

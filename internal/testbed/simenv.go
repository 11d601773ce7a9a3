package testbed

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// SimEnv is the simulated-tools side of a test bed: the directory of links
// that put `xl`, `drbdadm`, … first in PATH, and the simulator's shared
// state directory. testbed.Pair and netbed.Bed embed it.
type SimEnv struct {
	T      testing.TB
	BinDir string // links to the xhad binary under the simulated tools' names
	SimDir string // XHAD_SIM_DIR
}

// Env is the environment of node's daemon and simulated tools.
func (s SimEnv) Env(node string) []string {
	return append(os.Environ(),
		"PATH="+s.BinDir+":"+os.Getenv("PATH"),
		"XHAD_SIM_DIR="+s.SimDir,
		"XHAD_SIM_NODE="+node,
	)
}

// Sim runs `xhad sim ctl ARGS` and fails the test on error.
func (s SimEnv) Sim(args ...string) string {
	s.T.Helper()
	out, err := s.SimOutput(args...)
	if err != nil {
		s.T.Fatalf("xhad sim ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// SimOutput runs `xhad sim ctl ARGS`.
func (s SimEnv) SimOutput(args ...string) (string, error) {
	xhad, _ := Binary(s.T)
	cmd := exec.Command(xhad, append([]string{"sim", "ctl"}, args...)...)
	cmd.Env = s.Env("a")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

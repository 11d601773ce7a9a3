package sim

import (
	"fmt"
	"io"
)

// Run runs one simulated tool ("xl", "drbdadm", "ctl") with its arguments and
// returns the process exit code. getenv supplies XHAD_SIM_DIR and XHAD_SIM_NODE.
func Run(tool string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fmt.Fprintf(stderr, "xhad sim %s: not built yet\n", tool)
	return 2
}

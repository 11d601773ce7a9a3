package sim

import (
	"fmt"
	"strings"
)

// ping simulates `ping -n -c 1 -W SECS ADDR` for the daemon's partition check
// and tie-breaker: an address that is one of the pair's node addresses
// (`ctl init --addresses`) answers while that host is up; any other address
// does not answer. No packet is sent.
func (c *call) ping(args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		fmt.Fprintln(c.stderr, "ping: usage error: Destination address required")
		return 2
	}
	addr := args[len(args)-1]
	st, err := c.peek()
	if err != nil {
		return c.simFailed("ping", err)
	}
	fmt.Fprintf(c.stdout, "PING %s (%s) 56(84) bytes of data.\n", addr, addr)
	for i, a := range st.Addresses {
		if a == addr && !st.Hosts[st.Nodes[i]].Down {
			fmt.Fprintf(c.stdout, "64 bytes from %s: icmp_seq=1 ttl=64 time=0.042 ms\n\n--- %s ping statistics ---\n1 packets transmitted, 1 received, 0%% packet loss, time 0ms\n", addr, addr)
			return 0
		}
	}
	fmt.Fprintf(c.stdout, "\n--- %s ping statistics ---\n1 packets transmitted, 0 received, 100%% packet loss, time 0ms\n\n", addr)
	return 1
}

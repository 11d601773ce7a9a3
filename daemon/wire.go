package daemon

import (
	"encoding/json"
	"fmt"

	"xhad/daemon/core"
)

// encodeState is the heartbeat body: the core's published node state.
func encodeState(s core.NodeState) ([]byte, error) {
	return json.Marshal(s)
}

// decodeState parses a heartbeat body. The link layer already authenticated
// it, so a decode error means a peer of another version or a bug: it is
// dropped and logged, never fatal.
func decodeState(body []byte) (core.NodeState, error) {
	var s core.NodeState
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("decode heartbeat body: %w", err)
	}
	return s, nil
}

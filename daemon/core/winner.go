package core

// side is what the start-up election reads of one node: only fields both
// nodes publish, so that both compute the same answer from the same versions.
type side struct {
	name        string
	maintenance bool
	flapHold    bool
	role        Role
	want        bool
	yield       bool
	ineligible  bool
}

func sideOf(s *NodeState, group string) side {
	g, _ := s.group(group)
	return side{
		name:        s.Node,
		maintenance: s.Maintenance,
		flapHold:    s.FlapHold,
		role:        g.Role,
		want:        g.Want,
		yield:       g.Yield,
		ineligible:  g.Ineligible,
	}
}

// Grant returns the node that should start group g when both nodes are alive
// and both hold it in STANDBY (or the one that does not is FAILED and an
// operator asked it to take the group over: it adopts what runs there), with
// the reason, or "" when neither should.
// It is symmetric: Grant(g, a, b) == Grant(g, b, a).
//
// In order: a node in maintenance never wins; an operator's takeover wins;
// a node that yielded the group, whose last start failed, or that hit the
// anti-flapping limit loses (unless an operator asked it); then the group's
// preferred node; then the lower node name (jhad's rule).
func Grant(g GroupConfig, a, b side) (string, string) {
	if a.name > b.name {
		a, b = b, a
	}
	if a.holdsAgainst() || b.holdsAgainst() {
		return "", "a node holds the group"
	}
	// A FAILED node (asked by an operator) may still run the group's
	// resources: it starts the group or nobody does.
	switch fa, fb := a.role == Failed, b.role == Failed; {
	case fa && fb:
		return "", "both nodes hold the group FAILED"
	case fa || fb:
		s := a
		if fb {
			s = b
		}
		if s.maintenance {
			return "", s.name + " holds the group FAILED and is in maintenance"
		}
		return s.name, "operator takeover of the FAILED group on " + s.name
	}
	cands := make([]side, 0, 2)
	for _, s := range []side{a, b} {
		if !s.maintenance {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return "", "both nodes are in maintenance"
	}
	var wanting []side
	for _, s := range cands {
		if s.want {
			wanting = append(wanting, s)
		}
	}
	if len(wanting) == 1 {
		return wanting[0].name, "operator takeover on " + wanting[0].name
	}
	if len(wanting) == 2 {
		cands = wanting
	} else {
		var ok []side
		var why string
		for _, s := range cands {
			switch {
			case s.yield:
				why = s.name + " yielded the group"
			case s.ineligible:
				why = "the last start on " + s.name + " failed"
			case s.flapHold:
				why = s.name + " is held by the anti-flapping limit"
			default:
				ok = append(ok, s)
			}
		}
		if len(ok) == 0 {
			return "", "no eligible node: " + why
		}
		if len(ok) == 1 {
			if why == "" {
				why = "the other node is in maintenance"
			}
			return ok[0].name, why
		}
		cands = ok
	}
	for _, s := range cands {
		if s.name == g.Preferred {
			return s.name, "preferred node"
		}
	}
	return cands[0].name, "lower node name"
}

// holdsAgainst: the node's role keeps the group from being granted. A FAILED
// node that an operator asked to take the group over does not: it is the
// one to start it (adopting whatever of it runs there).
func (s side) holdsAgainst() bool { return s.role.holds() && !(s.role == Failed && s.want) }

package core

import "testing"

// TestGrantSymmetricAndSafe checks every combination of the published
// fields: the answer does not depend on argument order (both nodes must
// compute the same winner), a node in maintenance or holding the group never
// wins, and an operator's lone takeover always wins.
func TestGrantSymmetricAndSafe(t *testing.T) {
	bools := []bool{false, true}
	roles := []Role{Standby, Active, Failed}
	var sides []side
	for _, maint := range bools {
		for _, flap := range bools {
			for _, want := range bools {
				for _, yield := range bools {
					for _, inel := range bools {
						for _, r := range roles {
							sides = append(sides, side{maintenance: maint, flapHold: flap, want: want, yield: yield, ineligible: inel, role: r})
						}
					}
				}
			}
		}
	}
	for _, pref := range []string{"", "a", "b"} {
		g := GroupConfig{Name: "main", Preferred: pref}
		for _, x := range sides {
			for _, y := range sides {
				a, b := x, y
				a.name, b.name = "a", "b"
				w1, _ := Grant(g, a, b)
				w2, _ := Grant(g, b, a)
				if w1 != w2 {
					t.Fatalf("asymmetric: %+v %+v pref=%q: %q vs %q", a, b, pref, w1, w2)
				}
				if (a.holdsAgainst() || b.holdsAgainst()) && w1 != "" {
					t.Fatalf("granted %q while a node holds the group: %+v %+v", w1, a, b)
				}
				for _, s := range []side{a, b} {
					if s.role.holds() && w1 != "" && w1 != s.name {
						t.Fatalf("granted %q while %s holds the group (%s): %+v %+v", w1, s.name, s.role, a, b)
					}
				}
				for _, s := range []side{a, b} {
					if s.name == w1 && s.maintenance {
						t.Fatalf("granted to %s in maintenance: %+v %+v", w1, a, b)
					}
				}
				if !a.role.holds() && !b.role.holds() && a.want && !a.maintenance && !(b.want && !b.maintenance) && w1 != "a" {
					t.Fatalf("a wants the group alone but %q won: %+v %+v", w1, a, b)
				}
			}
		}
	}
}

func TestGrantRules(t *testing.T) {
	s := func(name string) side { return side{name: name} }
	cases := []struct {
		name string
		pref string
		a, b side
		want string
	}{
		{"lower name", "", s("a"), s("b"), "a"},
		{"preferred", "b", s("a"), s("b"), "b"},
		{"yield", "", side{name: "a", yield: true}, s("b"), "b"},
		{"both yield", "", side{name: "a", yield: true}, side{name: "b", yield: true}, ""},
		{"failed start", "a", side{name: "a", ineligible: true}, s("b"), "b"},
		{"flap hold", "", side{name: "a", flapHold: true}, s("b"), "b"},
		{"operator beats preference", "a", s("a"), side{name: "b", want: true}, "b"},
		{"both want: preference", "b", side{name: "a", want: true}, side{name: "b", want: true}, "b"},
		{"maintenance", "", side{name: "a", maintenance: true}, s("b"), "b"},
		{"both maintenance", "", side{name: "a", maintenance: true}, side{name: "b", maintenance: true}, ""},
		{"held", "", side{name: "a", role: Active}, s("b"), ""},
	}
	for _, c := range cases {
		got, why := Grant(GroupConfig{Name: "g", Preferred: c.pref}, c.a, c.b)
		if got != c.want {
			t.Errorf("%s: got %q (%s), want %q", c.name, got, why, c.want)
		}
	}
}

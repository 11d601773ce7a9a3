package dsl

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration: where it is, which key,
// what is wrong and what to write instead.
type Problem struct {
	File string `json:"file"`
	// Line and Col are 1-based; Col counts bytes. They point at the key, at
	// the table header when a key is missing, or at 1:1 when nothing better
	// exists. Line is 0 when the file itself could not be read.
	Line int `json:"line"`
	Col  int `json:"col"`
	// Key is the key path with 0-based array indices, e.g. "timing.deadtime"
	// or "group[0].resource[2].config"; "" for the file as a whole.
	Key string `json:"key,omitempty"`
	// Msg says what is wrong, Fix what to write instead.
	Msg string `json:"message"`
	Fix string `json:"fix,omitempty"`
	// Err is the underlying cause, if any (a file system error, say).
	Err error `json:"-"`
}

// Error renders the problem as one line:
// FILE:LINE:COL: KEY: MESSAGE; FIX
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString("; ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (p Problem) Unwrap() error { return p.Err }

// Errors is every problem found in one configuration, in file order. Load and
// Parse return it (as *Errors) whenever they fail.
type Errors struct {
	Problems []Problem `json:"problems"`
}

// Error prints every problem, one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so errors.Is and errors.As see their causes.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// sortProblems orders problems by position, then key and message, so the
// output reads top to bottom and is deterministic.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Key, b.Key),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}

package dsl

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

func TestIndexPositions(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want map[string]position // a subset of the index
		none []string            // paths that must not be indexed
	}{
		{
			name: "keys, tables and indented keys",
			toml: "a = 1\n[t]\n  b = 2\n",
			want: map[string]position{"a": {1, 1}, "t": {2, 1}, "t.b": {3, 3}},
		},
		{
			name: "arrays of tables are numbered, nested ones per parent",
			toml: "[[g]]\nn = 1\n  [[g.r]]\n  n = 2\n  [[g.r]]\n  n = 3\n[[g]]\n  [[g.r]]\n  n = 4\n",
			want: map[string]position{
				"g": {1, 1}, "g[0]": {1, 1}, "g[0].n": {2, 1},
				"g[0].r": {3, 3}, "g[0].r[0]": {3, 3}, "g[0].r[0].n": {4, 3},
				"g[0].r[1]": {5, 3}, "g[0].r[1].n": {6, 3},
				"g[1]": {7, 1}, "g[1].r[0]": {8, 3}, "g[1].r[0].n": {9, 3},
			},
		},
		{
			name: "dotted and quoted keys",
			toml: "a.b = 1\n\"c d\" = 2\n'e' . \"f\" = 3\n[ x . \"y z\" ]\nk = 4\n",
			want: map[string]position{
				"a": {1, 1}, "a.b": {1, 1}, `"c d"`: {2, 1}, "e.f": {3, 1},
				`x."y z"`: {4, 1}, `x."y z".k`: {5, 1},
			},
		},
		{
			name: "array elements and inline tables",
			toml: "p = [1, 22,\n  333]\nm = { a = 1, b = { c = 2 } }\nn = [ { x = 1 }, { y = 2 } ]\n",
			want: map[string]position{
				"p[0]": {1, 6}, "p[1]": {1, 9}, "p[2]": {2, 3},
				"m.a": {3, 7}, "m.b": {3, 14}, "m.b.c": {3, 20},
				"n[0]": {4, 7}, "n[0].x": {4, 9}, "n[1].y": {4, 20},
			},
		},
		{
			name: "strings and comments that look like keys",
			toml: "s = \"\"\"\n[fake]\nk = 1\n\"\"\"\nl = '''x = ''' # [fake2]\nq = \"a \\\" [b] = c\" # d = e\nr = 'x#y'\n",
			want: map[string]position{"s": {1, 1}, "l": {5, 1}, "q": {6, 1}, "r": {7, 1}},
			none: []string{"fake", "k", "fake2", "b", "d", "y"},
		},
		{
			name: "CRLF line ends and a byte order mark",
			toml: "\xef\xbb\xbfa = 1\r\n[t]\r\n b = 2\r\n",
			want: map[string]position{"a": {1, 1}, "t": {2, 1}, "t.b": {3, 2}},
		},
		{
			name: "multi-line array with comments",
			toml: "p = [ # first\n  \"a\", # x = 1\n  \"b\",\n]\nz = 1\n",
			want: map[string]position{"p[0]": {2, 3}, "p[1]": {3, 3}, "z": {5, 1}},
			none: []string{"x", "p[2]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := indexPositions([]byte(tc.toml))
			for path, want := range tc.want {
				if p, ok := got[path]; !ok || p != want {
					t.Errorf("%s at %v (found %v), want %v", path, p, ok, want)
				}
			}
			for _, fake := range tc.none {
				if _, ok := got[fake]; ok {
					t.Errorf("indexed %q, which is inside a string or comment", fake)
				}
			}
			if t.Failed() {
				t.Logf("index:\n%s", dumpIndex(got))
			}
		})
	}
}

func dumpIndex(ix positionIndex) string {
	var lines []string
	for k, p := range ix {
		lines = append(lines, fmt.Sprintf("%s %d:%d", k, p.line, p.col))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestLocateFallsBackToParents(t *testing.T) {
	ix := indexPositions([]byte("[[g]]\nn = 1\n  [[g.r]]\n  n = 2\n"))
	tests := []struct {
		path string
		want position
	}{
		{"g[0].r[0].missing", position{3, 3}},
		{"g[0].missing", position{1, 1}},
		{"g[0].r[0].n", position{4, 3}},
		{`g[0]."odd.key"`, position{1, 1}},
		{"nothing.here", position{1, 1}},
	}
	for _, tc := range tests {
		if got := ix.locate(tc.path); got != tc.want {
			t.Errorf("locate(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"a", ""},
		{"a.b", "a"},
		{"a[3]", "a"},
		{"a[3].b", "a[3]"},
		{`a."b.c"`, "a"},
		{`a."b\".c"`, "a"},
		{`"x.y"[0]`, `"x.y"`},
	}
	for _, tc := range tests {
		if got := parentPath(tc.path); got != tc.want {
			t.Errorf("parentPath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

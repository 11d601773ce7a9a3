package dsl

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// checker collects the problems of one configuration while it is walked.
type checker struct {
	file  string
	pos   positionIndex
	probs []Problem
}

// problem records a problem at the position of the indexed key path.
func (c *checker) problem(path, msg, fix string) {
	c.problemAt(path, c.pos.locate(path), msg, fix, nil)
}

func (c *checker) problemAt(path string, p position, msg, fix string, cause error) {
	c.probs = append(c.probs, Problem{File: c.file, Line: p.line, Col: p.col, Key: path, Msg: msg, Fix: fix, Err: cause})
}

// presence says how a value was obtained.
type presence int

const (
	absent    presence = iota // not written, no default, not required
	defaulted                 // not written; the schema's fixed default
	given                     // written and of the right type
	invalid                   // written wrongly, or required and missing (a problem was recorded)
)

// ok reports whether the value can be used.
func (p presence) ok() bool { return p == defaulted || p == given }

// tableView reads the keys of one TOML table, checking types against the
// schema and remembering which keys were read.
type tableView struct {
	c      *checker
	path   string // indexed path; "" for the top level
	schema string // path without indices; "" for the top level
	m      map[string]any
	used   map[string]bool
}

func newTableView(c *checker, path, schemaPath string, m map[string]any) *tableView {
	if m == nil {
		m = map[string]any{}
	}
	return &tableView{c: c, path: path, schema: schemaPath, m: m, used: map[string]bool{}}
}

func (t *tableView) keyPath(key string) string { return childPath(t.path, key) }

func (t *tableView) spec(key string) *keySpec {
	if t.schema == "" {
		return lookupSpec(key)
	}
	return lookupSpec(t.schema + "." + key)
}

// has reports whether key was written.
func (t *tableView) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

// at returns the position of key, or of the table when the key is missing.
func (t *tableView) at(key string) position { return t.c.pos.locate(t.keyPath(key)) }

// problem records a problem about key (at the key, or at the table header
// when the key was left out).
func (t *tableView) problem(key, msg, fix string) {
	t.c.problem(t.keyPath(key), msg, fix)
}

// raw returns the written value and marks the key as read. For a missing key
// it returns the presence to use: defaulted, absent, or invalid after
// recording a "missing required key" problem.
func (t *tableView) raw(key string) (any, presence) {
	s := t.spec(key)
	t.used[key] = true
	v, ok := t.m[key]
	if ok {
		return v, given
	}
	switch {
	case s.required:
		fix := "write " + key + " = " + s.example
		if s.typ == typeTables {
			fix = "add a [[" + s.path + "]] table"
		}
		t.problem(key, "missing required key", fix)
		return nil, invalid
	case s.def != nil:
		return s.def, defaulted
	}
	return nil, absent
}

// wrongType records that key holds v where want was expected.
func (t *tableView) wrongType(path, key string, v any, want valueType) {
	msg := fmt.Sprintf("%s is %s, want %s", formatTOMLValue(v), tomlTypeName(v), articled(want))
	switch v.(type) {
	case map[string]any, []map[string]any:
		msg = fmt.Sprintf("is %s, want %s", tomlTypeName(v), articled(want))
	}
	t.c.problem(path, msg, typeFix(key, v, want))
}

func (t *tableView) str(key string) (string, presence) {
	v, p := t.raw(key)
	if p != given {
		s, _ := v.(string)
		return s, p
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(t.keyPath(key), key, v, typeString)
		return "", invalid
	}
	return s, given
}

func (t *tableView) boolean(key string) (bool, presence) {
	v, p := t.raw(key)
	if p != given {
		b, _ := v.(bool)
		return b, p
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(t.keyPath(key), key, v, typeBool)
		return false, invalid
	}
	return b, given
}

func (t *tableView) integer(key string) (int64, presence) {
	v, p := t.raw(key)
	if p != given {
		n, _ := v.(int64)
		return n, p
	}
	n, ok := v.(int64)
	if !ok {
		t.wrongType(t.keyPath(key), key, v, typeInteger)
		return 0, invalid
	}
	return n, given
}

// intRange reads an integer that must lie in [lo, hi].
func (t *tableView) intRange(key string, lo, hi int64) (int64, presence) {
	n, p := t.integer(key)
	if p == given && (n < lo || n > hi) {
		t.problem(key, fmt.Sprintf("%d is out of range", n), fmt.Sprintf("write a number from %d to %d", lo, hi))
		return 0, invalid
	}
	return n, p
}

func (t *tableView) duration(key string) (time.Duration, presence) {
	v, p := t.raw(key)
	if p != given {
		d, _ := v.(time.Duration)
		return d, p
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(t.keyPath(key), key, v, typeDuration)
		return 0, invalid
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.problem(key, fmt.Sprintf("%q is not a duration", s), durationFix(key, s))
		return 0, invalid
	}
	if d < 0 {
		t.problem(key, fmt.Sprintf("%q is negative", s), fmt.Sprintf("write %s = %q", key, formatDuration(-d)))
		return 0, invalid
	}
	return d, given
}

// positiveDuration reads a duration that must be more than zero.
func (t *tableView) positiveDuration(key string) (time.Duration, presence) {
	d, p := t.duration(key)
	if p == given && d == 0 {
		t.problem(key, "must be more than zero", fmt.Sprintf("write %s = %q", key, formatDuration(defaultDurationOr(t.spec(key), time.Second))))
		return 0, invalid
	}
	return d, p
}

func defaultDurationOr(s *keySpec, fallback time.Duration) time.Duration {
	if d, ok := s.def.(time.Duration); ok && d > 0 {
		return d
	}
	return fallback
}

// array returns the elements of an array value.
func (t *tableView) array(key string, want valueType) ([]any, presence) {
	v, p := t.raw(key)
	switch p {
	case defaulted:
		switch d := v.(type) {
		case []string:
			out := make([]any, len(d))
			for i := range d {
				out[i] = d[i]
			}
			return out, p
		case []int64:
			out := make([]any, len(d))
			for i := range d {
				out[i] = d[i]
			}
			return out, p
		}
		return nil, p
	case given:
	default:
		return nil, p
	}
	switch a := v.(type) {
	case []any:
		return a, given
	case []map[string]any:
		out := make([]any, len(a))
		for i := range a {
			out[i] = a[i]
		}
		return out, given
	}
	t.wrongType(t.keyPath(key), key, v, want)
	return nil, invalid
}

func (t *tableView) strings(key string) ([]string, presence) {
	return arrayOf[string](t, key, typeStrings, typeString)
}

func (t *tableView) integers(key string) ([]int64, presence) {
	return arrayOf[int64](t, key, typeIntegers, typeInteger)
}

// arrayOf reads key as an array whose elements must all be of Go type E
// (TOML type elem), reporting each element of another type at its index.
func arrayOf[E any](t *tableView, key string, arr, elem valueType) ([]E, presence) {
	elems, p := t.array(key, arr)
	if !p.ok() {
		return nil, p
	}
	out := make([]E, 0, len(elems))
	for i, e := range elems {
		v, ok := e.(E)
		if !ok {
			t.wrongType(indexPath(t.keyPath(key), i), key, e, elem)
			p = invalid
			continue
		}
		out = append(out, v)
	}
	return out, p
}

// stringMap reads an inline table whose values are strings.
func (t *tableView) stringMap(key string) (map[string]string, presence) {
	v, p := t.raw(key)
	if p != given {
		return nil, p
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(t.keyPath(key), key, v, typeStringMap)
		return nil, invalid
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		s, ok := m[k].(string)
		if !ok {
			t.wrongType(childPath(t.keyPath(key), k), k, m[k], typeString)
			p = invalid
			continue
		}
		out[k] = s
	}
	return out, p
}

// table reads a sub-table. A missing table gives an empty view, so the
// defaults of its keys apply.
func (t *tableView) table(key string) (*tableView, presence) {
	v, p := t.raw(key)
	path := t.keyPath(key)
	schemaPath := t.spec(key).path
	if p != given {
		return newTableView(t.c, path, schemaPath, nil), p
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(path, key, v, typeTable)
		return newTableView(t.c, path, schemaPath, nil), invalid
	}
	return newTableView(t.c, path, schemaPath, m), given
}

// tables reads an array of tables ([[key]], or an array of inline tables).
func (t *tableView) tables(key string) ([]*tableView, presence) {
	v, p := t.raw(key)
	if p != given {
		return nil, p
	}
	path := t.keyPath(key)
	schemaPath := t.spec(key).path
	var elems []map[string]any
	switch a := v.(type) {
	case []map[string]any:
		elems = a
	case []any:
		for _, e := range a {
			m, ok := e.(map[string]any)
			if !ok {
				t.wrongType(path, key, v, typeTables)
				return nil, invalid
			}
			elems = append(elems, m)
		}
	default:
		t.wrongType(path, key, v, typeTables)
		return nil, invalid
	}
	out := make([]*tableView, len(elems))
	for i, m := range elems {
		out[i] = newTableView(t.c, indexPath(path, i), schemaPath, m)
	}
	return out, given
}

// markUsed marks keys as read without reading them.
func (t *tableView) markUsed(keys ...string) {
	for _, k := range keys {
		t.used[k] = true
	}
}

// finish reports every key of the table that nobody read, suggesting the
// closest of candidates.
func (t *tableView) finish(candidates []string) {
	for _, k := range sortedKeys(t.m) {
		if t.used[k] {
			continue
		}
		what := "unknown key"
		switch t.m[k].(type) {
		case map[string]any, []map[string]any:
			what = "unknown table"
		}
		t.c.problem(t.keyPath(k), what, suggestionFix(k, candidates))
	}
}

func suggestionFix(key string, candidates []string) string {
	if s := closest(key, candidates); s != "" {
		return "did you mean " + s + "?"
	}
	if len(candidates) == 0 {
		return "remove it"
	}
	return "remove it, or use one of: " + strings.Join(candidates, ", ")
}

// closest returns the candidate most like key, or "" when none is close:
// the same after lower-casing and turning "_" into "-", else at most a third
// of the key's length of single-character edits or swaps (at least 1, at
// most 3, and fewer than the key has characters).
func closest(key string, candidates []string) string {
	norm := strings.ReplaceAll(strings.ToLower(key), "_", "-")
	for _, c := range candidates {
		if c == norm {
			return c
		}
	}
	if len(key) > 64 {
		return ""
	}
	limit := min(max(len(norm)/3, 1), 3, len(norm)-1)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(norm, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// adjacent bytes that turn a into b (optimal string alignment distance).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tomlTypeName names the TOML type of a decoded value, with an article.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func articled(t valueType) string {
	switch t {
	case typeInteger, typeIntegers, typeStrings, typeTables:
		return "an " + string(t)
	case typeDuration:
		return `a duration string such as "500ms"`
	}
	return "a " + string(t)
}

// typeFix suggests how to write v as want.
func typeFix(key string, v any, want valueType) string {
	switch want {
	case typeString:
		switch x := v.(type) {
		case int64, float64, bool:
			return fmt.Sprintf("write %s = %q", key, formatTOMLValue(x))
		}
		return fmt.Sprintf("write %s = %q", key, "...")
	case typeInteger:
		switch x := v.(type) {
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return fmt.Sprintf("write %s = %d, without quotes", key, n)
			}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1e15 {
				return fmt.Sprintf("write %s = %d", key, int64(x))
			}
		}
		return fmt.Sprintf("write %s = a whole number", key)
	case typeBool:
		if s, ok := v.(string); ok && (s == "true" || s == "false") {
			return fmt.Sprintf("write %s = %s, without quotes", key, s)
		}
		return fmt.Sprintf("write %s = true or %s = false", key, key)
	case typeDuration:
		switch x := v.(type) {
		case int64:
			return fmt.Sprintf("write %s = \"%ds\" or \"%dms\", a quoted duration with its unit", key, x, x)
		case float64:
			return fmt.Sprintf("write %s = \"%gs\", a quoted duration with its unit", key, x)
		}
		return fmt.Sprintf("write %s = \"500ms\", a quoted duration with its unit", key)
	case typeStrings:
		if s, ok := v.(string); ok {
			return fmt.Sprintf("write %s = [%q]", key, s)
		}
		return fmt.Sprintf("write %s = [\"...\"]", key)
	case typeIntegers:
		if n, ok := v.(int64); ok {
			return fmt.Sprintf("write %s = [%d]", key, n)
		}
		return fmt.Sprintf("write %s = [1, 2]", key)
	case typeStringMap:
		return fmt.Sprintf("write %s = { name = \"value\" }", key)
	case typeTable:
		return fmt.Sprintf("write it as a table: [%s] on a line of its own, its keys below", key)
	case typeTables:
		return fmt.Sprintf("write it as an array of tables: [[%s]] on a line of its own, its keys below, once per element", key)
	}
	return ""
}

var durationWords = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Zµ]+)\s*$`)

var durationUnits = map[string]string{
	"ns": "ns", "us": "us", "µs": "us", "ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"d": "day", "day": "day", "days": "day",
}

// durationFix suggests a Go duration for a string that is not one.
func durationFix(key, s string) string {
	if m := durationWords.FindStringSubmatch(s); m != nil {
		if unit, ok := durationUnits[strings.ToLower(m[2])]; ok {
			if unit == "day" {
				if n, err := strconv.ParseFloat(m[1], 64); err == nil && n*24 < 1e6 {
					return fmt.Sprintf("write %s = \"%sh\" (Go durations have no days)", key, strconv.FormatFloat(n*24, 'f', -1, 64))
				}
			} else {
				return fmt.Sprintf("write %s = \"%s%s\"", key, m[1], unit)
			}
		}
	}
	if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return fmt.Sprintf("write %s = \"%ss\" or \"%sms\", with a unit", key, strconv.FormatFloat(n, 'f', -1, 64), strconv.FormatFloat(n, 'f', -1, 64))
	}
	return fmt.Sprintf("write a Go duration such as %s = \"500ms\", \"3s\" or \"1m30s\"", key)
}

// formatDuration prints a duration the way Go parses it back, without the
// zero minutes and seconds of time.Duration.String: "1h", "10m", "1m30s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// formatTOMLValue renders a value as a TOML literal.
func formatTOMLValue(v any) string {
	switch x := v.(type) {
	case string:
		return quoteTOML(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Duration:
		return quoteTOML(formatDuration(x))
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []string:
		parts := make([]string, len(x))
		for i := range x {
			parts[i] = quoteTOML(x[i])
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []int64:
		parts := make([]string, len(x))
		for i := range x {
			parts[i] = strconv.FormatInt(x[i], 10)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []any:
		parts := make([]string, len(x))
		for i := range x {
			parts[i] = formatTOMLValue(x[i])
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []map[string]any:
		return "[...]"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = tomlKey(k) + " = " + formatTOMLValue(x[k])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case map[string]string:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = tomlKey(k) + " = " + quoteTOML(x[k])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return fmt.Sprint(v)
}

// tomlKey writes a key bare when it can be, else quoted.
func tomlKey(k string) string {
	if isBareKey(k) {
		return k
	}
	return quoteTOML(k)
}

// quoteTOML writes s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// oneOf formats the allowed values of an enumeration for a message.
func oneOf(values ...string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	if len(quoted) <= 2 {
		return strings.Join(quoted, " or ")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// enum reads a string that must be one of values.
func (t *tableView) enum(key string, values ...string) (string, presence) {
	s, p := t.str(key)
	if p == given && !slices.Contains(values, s) {
		fix := "write " + key + " = " + oneOf(values...)
		if c := closest(s, values); c != "" {
			fix = fmt.Sprintf("write %s = %q", key, c)
		}
		t.problem(key, fmt.Sprintf("%q is not one of %s", s, oneOf(values...)), fix)
		return "", invalid
	}
	return s, p
}

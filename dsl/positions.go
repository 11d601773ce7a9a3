package dsl

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// BurntSushi/toml v1.6.0 keeps key positions private: MetaData has no
// position accessor, the only public positions are those of a ParseError,
// and its internal table is keyed by paths without array indices, so the
// second [[node]]'s keys overwrite the first's. The file is therefore
// scanned a second time here, after the parser accepted it, to learn where
// every key, table header and array element starts.

// position is a 1-based line and byte column.
type position struct{ line, col int }

// positionIndex maps an indexed key path (see childPath, indexPath) to where
// the key, the table header or the array element starts.
type positionIndex map[string]position

// locate returns the position of path, else of its closest ancestor that has
// one, else 1:1.
func (ix positionIndex) locate(path string) position {
	for {
		if p, ok := ix[path]; ok {
			return p
		}
		if path == "" {
			return position{1, 1}
		}
		path = parentPath(path)
	}
}

// childPath appends a key to an indexed path; keys that are not bare TOML
// keys are quoted.
func childPath(parent, key string) string {
	if !isBareKey(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexPath appends an array index to a path.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath strips the last key or index of a path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	// The last dot outside quotes separates the last key.
	inQuote, cut := false, -1
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				cut = i
			}
		}
	}
	if cut < 0 {
		return ""
	}
	return path[:cut]
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// indexPositions scans TOML source that the parser has accepted. It never
// fails and always terminates; on input the parser would reject, it records
// what it can.
func indexPositions(src []byte) positionIndex {
	s := &posScanner{src: src, line: 1, col: 1, arrays: map[string]int{}, out: positionIndex{}}
	if strings.HasPrefix(string(src), "\xef\xbb\xbf") {
		s.i = 3
	}
	table := ""
	for !s.eof() {
		start := s.i
		s.skipBlank(true)
		if s.eof() {
			break
		}
		if s.peek() == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		if s.i == start {
			s.advance()
		}
	}
	return s.out
}

type posScanner struct {
	src       []byte
	i         int
	line, col int
	arrays    map[string]int // indexed path of an array of tables -> elements seen
	out       positionIndex
}

func (s *posScanner) eof() bool { return s.i >= len(s.src) }

func (s *posScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *posScanner) peekAt(n int) byte {
	if s.i+n >= len(s.src) {
		return 0
	}
	return s.src[s.i+n]
}

func (s *posScanner) here() position { return position{s.line, s.col} }

func (s *posScanner) advance() {
	if s.eof() {
		return
	}
	if s.src[s.i] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.i++
}

func (s *posScanner) record(path string, p position) {
	if _, ok := s.out[path]; !ok {
		s.out[path] = p
	}
}

// skipBlank skips spaces and tabs, and with newlines also line ends and
// comments.
func (s *posScanner) skipBlank(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t':
			s.advance()
		case newlines && (c == '\n' || c == '\r'):
			s.advance()
		case newlines && c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.advance()
			}
		default:
			return
		}
	}
}

// header reads [a.b] or [[a.b]] and returns the indexed path of the table.
func (s *posScanner) header() string {
	at := s.here()
	s.advance() // [
	array := s.peek() == '['
	if array {
		s.advance()
	}
	parts := s.key()
	s.skipBlank(false)
	for range 2 {
		if s.peek() == ']' {
			s.advance()
		}
	}
	path := ""
	for j, part := range parts {
		path = childPath(path, part)
		last := j == len(parts)-1
		switch n, isArray := s.arrays[path]; {
		case last && array:
			s.record(path, at)
			s.arrays[path] = n + 1
			path = indexPath(path, n)
		case isArray && n > 0:
			path = indexPath(path, n-1)
		}
		s.record(path, at)
	}
	return path
}

// keyValue reads key = value inside table.
func (s *posScanner) keyValue(table string) {
	at := s.here()
	parts := s.key()
	if len(parts) == 0 {
		return
	}
	path := table
	for _, part := range parts {
		path = childPath(path, part)
		s.record(path, at)
	}
	s.skipBlank(false)
	if s.peek() != '=' {
		return
	}
	s.advance()
	s.skipBlank(false)
	s.value(path)
}

// key reads a possibly dotted, possibly quoted key.
func (s *posScanner) key() []string {
	var parts []string
	for {
		s.skipBlank(false)
		switch c := s.peek(); {
		case c == '"':
			parts = append(parts, s.basicString())
		case c == '\'':
			parts = append(parts, s.literalString())
		case isBareKeyByte(c):
			start := s.i
			for !s.eof() && isBareKeyByte(s.peek()) {
				s.advance()
			}
			parts = append(parts, string(s.src[start:s.i]))
		default:
			return parts
		}
		s.skipBlank(false)
		if s.peek() != '.' {
			return parts
		}
		s.advance()
	}
}

// value skips a value, recording array elements and inline-table keys.
func (s *posScanner) value(path string) {
	switch c := s.peek(); c {
	case '"':
		if s.peekAt(1) == '"' && s.peekAt(2) == '"' {
			s.multiline('"')
		} else {
			s.basicString()
		}
	case '\'':
		if s.peekAt(1) == '\'' && s.peekAt(2) == '\'' {
			s.multiline('\'')
		} else {
			s.literalString()
		}
	case '[':
		s.advance()
		for i := 0; ; {
			s.skipBlank(true)
			if s.eof() {
				return
			}
			if s.peek() == ']' {
				s.advance()
				return
			}
			start := s.i
			elem := indexPath(path, i)
			s.record(elem, s.here())
			s.value(elem)
			s.skipBlank(true)
			switch s.peek() {
			case ',':
				s.advance()
				i++
			case ']':
				s.advance()
				return
			default:
				if s.i == start {
					s.advance()
				}
			}
		}
	case '{':
		s.advance()
		for {
			s.skipBlank(true)
			if s.eof() {
				return
			}
			if s.peek() == '}' {
				s.advance()
				return
			}
			start := s.i
			s.keyValue(path)
			s.skipBlank(true)
			switch s.peek() {
			case ',':
				s.advance()
			case '}':
				s.advance()
				return
			default:
				if s.i == start {
					s.advance()
				}
			}
		}
	default:
		for !s.eof() {
			switch s.peek() {
			case ',', ']', '}', '#', '\n', '\r':
				return
			}
			s.advance()
		}
	}
}

// multiline skips a """ or ”' string, including up to two extra closing
// quotes that belong to the content.
func (s *posScanner) multiline(q byte) {
	for range 3 {
		s.advance()
	}
	for !s.eof() {
		c := s.peek()
		if c == '\\' && q == '"' {
			s.advance()
			s.advance()
			continue
		}
		if c == q && s.peekAt(1) == q && s.peekAt(2) == q {
			for range 3 {
				s.advance()
			}
			for range 2 {
				if s.peek() == q {
					s.advance()
				}
			}
			return
		}
		s.advance()
	}
}

// basicString reads a "..." string and returns its decoded content.
func (s *posScanner) basicString() string {
	s.advance() // "
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		switch {
		case c == '"':
			s.advance()
			return b.String()
		case c == '\n':
			return b.String()
		case c == '\\':
			s.advance()
			e := s.peek()
			s.advance()
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				start := s.i
				for range n {
					s.advance()
				}
				if r, err := strconv.ParseUint(string(s.src[start:min(s.i, len(s.src))]), 16, 32); err == nil && utf8.ValidRune(rune(r)) {
					b.WriteRune(rune(r))
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			s.advance()
		}
	}
	return b.String()
}

// literalString reads a '...' string and returns its content.
func (s *posScanner) literalString() string {
	s.advance() // '
	start := s.i
	for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
		s.advance()
	}
	out := string(s.src[start:s.i])
	if s.peek() == '\'' {
		s.advance()
	}
	return out
}

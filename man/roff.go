package man

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// escape makes plain text safe for roff: backslashes are written as \e, every
// "-" as \- (a literal hyphen-minus that copies and searches as "-"), and a
// line that would start with a control character is prefixed with \&.
// Text between backquotes becomes bold (a command or a key to type).
func escape(s string) string {
	var b strings.Builder
	bold := false
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\e`)
		case '-':
			b.WriteString(`\-`)
		case '`':
			if bold {
				b.WriteString(`\fR`)
			} else {
				b.WriteString(`\fB`)
			}
			bold = !bold
		default:
			b.WriteRune(r)
		}
	}
	if bold {
		b.WriteString(`\fR`)
	}
	return guardLines(b.String())
}

// guardLines prefixes \& to every line that starts with "." or "'", which
// roff would otherwise read as a request.
func guardLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// bold and italic wrap escaped text in a font change.
func bold(s string) string   { return `\fB` + escape(s) + `\fR` }
func italic(s string) string { return `\fI` + escape(s) + `\fR` }

// quoteArg quotes a macro argument (for .TH): inner quotes are doubled.
func quoteArg(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `""`) + `"`
}

// pageDate is the date printed in a page's .TH line: SOURCE_DATE_EPOCH when
// set and valid (reproducible builds), else fallback, else the current day.
func pageDate(fallback time.Time) string {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(sec, 0).UTC().Format("2006-01-02")
		}
	}
	if fallback.IsZero() {
		fallback = time.Now()
	}
	return fallback.UTC().Format("2006-01-02")
}

// maxLine is the longest input text line written; mandoc -Tlint flags longer
// ones.
const maxLine = 79

// para escapes prose and lays it out the roff way: a new line after each
// sentence, long lines broken at spaces. A break never follows a ".", so an
// abbreviation ("e.g.") is not taken for the end of a sentence.
func para(s string) string {
	var lines []string
	for _, sent := range sentences(strings.Join(strings.Fields(s), " ")) {
		lines = append(lines, wrap(escape(sent), maxLine)...)
	}
	return guardLines(strings.Join(lines, "\n"))
}

// sentences splits text after ". ", "? ", "! " or ": " when the next word
// starts with an upper-case letter.
func sentences(s string) []string {
	var out []string
	start := 0
	for i := 1; i+2 < len(s); i++ {
		if s[i+1] == ' ' && strings.ContainsRune(".?!", rune(s[i])) && s[i+2] >= 'A' && s[i+2] <= 'Z' {
			out = append(out, s[start:i+1])
			start = i + 2
		}
	}
	return append(out, s[start:])
}

// wrap breaks one line at spaces so no piece is longer than width bytes
// (a single longer word stays whole), never right after a ".".
func wrap(s string, width int) []string {
	var out []string
	for len(s) > width {
		cut := -1
		for i := width; i > 0; i-- {
			if s[i] == ' ' && s[i-1] != '.' {
				cut = i
				break
			}
		}
		if cut < 0 {
			next := strings.IndexByte(s[width:], ' ')
			if next < 0 {
				break
			}
			cut = width + next
		}
		out = append(out, s[:cut])
		s = s[cut+1:]
	}
	return append(out, s)
}

package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// cfgValue is the value of one xl config setting: a single atom or a list.
type cfgValue struct {
	isList bool
	atom   string
	list   []string
	line   int
}

// cfgSyntaxError is a config file that does not parse; xl prints it, then
// "Failed to parse config: Invalid argument", and exits 1.
type cfgSyntaxError struct {
	source string
	line   int
	near   string
}

func (e *cfgSyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: config parsing error near `%s': syntax error", e.source, e.line, e.near)
}

type cfgTokenKind int

const (
	tokEOF cfgTokenKind = iota
	tokNewline
	tokSemicolon
	tokEquals
	tokPlusEquals
	tokLBracket
	tokRBracket
	tokComma
	tokIdent
	tokString
	tokNumber
)

type cfgToken struct {
	kind cfgTokenKind
	text string
	line int
}

func lexXLConfig(source string, data string) ([]cfgToken, error) {
	var toks []cfgToken
	line := 1
	for i := 0; i < len(data); {
		ch := data[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r':
			i++
		case ch == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case ch == '\n':
			toks = append(toks, cfgToken{tokNewline, "\n", line})
			line++
			i++
		case ch == ';':
			toks = append(toks, cfgToken{tokSemicolon, ";", line})
			i++
		case ch == '=':
			toks = append(toks, cfgToken{tokEquals, "=", line})
			i++
		case ch == '+' && i+1 < len(data) && data[i+1] == '=':
			toks = append(toks, cfgToken{tokPlusEquals, "+=", line})
			i += 2
		case ch == '[':
			toks = append(toks, cfgToken{tokLBracket, "[", line})
			i++
		case ch == ']':
			toks = append(toks, cfgToken{tokRBracket, "]", line})
			i++
		case ch == ',':
			toks = append(toks, cfgToken{tokComma, ",", line})
			i++
		case ch == '"' || ch == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(data) && data[j] != ch && data[j] != '\n'; j++ {
				if ch == '"' && data[j] == '\\' && j+1 < len(data) && data[j+1] != '\n' {
					j++
				}
				b.WriteByte(data[j])
			}
			if j >= len(data) || data[j] != ch {
				return nil, &cfgSyntaxError{source, line, data[i:j]}
			}
			toks = append(toks, cfgToken{tokString, b.String(), line})
			i = j + 1
		case isIdentStart(ch):
			j := i + 1
			for j < len(data) && (isIdentStart(data[j]) || isDigit(data[j])) {
				j++
			}
			toks = append(toks, cfgToken{tokIdent, data[i:j], line})
			i = j
		case isDigit(ch):
			j := i + 1
			for j < len(data) && (isIdentStart(data[j]) || isDigit(data[j]) || data[j] == '.') {
				j++
			}
			toks = append(toks, cfgToken{tokNumber, data[i:j], line})
			i = j
		default:
			return nil, &cfgSyntaxError{source, line, string(ch)}
		}
	}
	return append(toks, cfgToken{tokEOF, "", line}), nil
}

func isIdentStart(ch byte) bool {
	return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
}

func isDigit(ch byte) bool { return ch >= '0' && ch <= '9' }

// parseXLConfig parses the xl domain config language: `key = value` settings
// separated by newlines or ';', values quoted strings, numbers or
// [ lists ], '#' comments, and `key += [...]` to extend a list. A later
// setting of the same key replaces the earlier one, as in libxlu.
func parseXLConfig(source string, data string) (map[string]cfgValue, error) {
	toks, err := lexXLConfig(source, data)
	if err != nil {
		return nil, err
	}
	settings := map[string]cfgValue{}
	p := 0
	fail := func() error {
		t := toks[p]
		near := t.text
		if t.kind == tokNewline {
			near = "\n"
		}
		return &cfgSyntaxError{source, t.line, near}
	}
	skipNewlines := func() {
		for toks[p].kind == tokNewline {
			p++
		}
	}
	atom := func() (string, bool) {
		if toks[p].kind == tokString || toks[p].kind == tokNumber {
			p++
			return toks[p-1].text, true
		}
		return "", false
	}
	for toks[p].kind != tokEOF {
		if toks[p].kind == tokNewline || toks[p].kind == tokSemicolon {
			p++
			continue
		}
		if toks[p].kind != tokIdent {
			return nil, fail()
		}
		key, line := toks[p].text, toks[p].line
		p++
		appendTo := false
		switch toks[p].kind {
		case tokEquals:
		case tokPlusEquals:
			appendTo = true
		default:
			return nil, fail()
		}
		p++
		var v cfgValue
		v.line = line
		if toks[p].kind == tokLBracket {
			p++
			v.isList = true
			skipNewlines()
			for toks[p].kind != tokRBracket {
				a, ok := atom()
				if !ok {
					return nil, fail()
				}
				v.list = append(v.list, a)
				skipNewlines()
				if toks[p].kind == tokComma {
					p++
					skipNewlines()
					continue
				}
				if toks[p].kind != tokRBracket {
					return nil, fail()
				}
			}
			p++
		} else {
			a, ok := atom()
			if !ok {
				return nil, fail()
			}
			v.atom = a
		}
		switch toks[p].kind {
		case tokNewline, tokSemicolon, tokEOF:
		default:
			return nil, fail()
		}
		if appendTo {
			old, had := settings[key]
			if !v.isList || (had && !old.isList) {
				return nil, &cfgSyntaxError{source, line, "+="}
			}
			v.list = append(old.list, v.list...)
		}
		settings[key] = v
	}
	return settings, nil
}

// domainConfig is what the simulator keeps of a parsed xl config.
type domainConfig struct {
	name        string
	typ         string
	memoryMB    int
	maxMemoryMB int
	vcpus       int
	uuid        string
	disks       []Disk
	nics        []Nic
	onPoweroff  string
	onReboot    string
	onCrash     string
}

// domainFromConfig extracts the settings xl needs. An error is what xl
// prints before exiting 1.
func domainFromConfig(source string, settings map[string]cfgValue) (domainConfig, error) {
	dc := domainConfig{typ: "pv", memoryMB: 32, vcpus: 1, onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy"}
	str := func(key string) (string, bool, error) {
		v, ok := settings[key]
		if !ok {
			return "", false, nil
		}
		if v.isList {
			return "", true, fmt.Errorf("%s:%d: config parameter `%s' is a list but should be a single value", source, v.line, key)
		}
		return v.atom, true, nil
	}
	num := func(key string, into *int) error {
		s, ok, err := str(key)
		if err != nil || !ok {
			return err
		}
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%s:%d: config parameter `%s' is not a valid number: %q", source, settings[key].line, key, s)
		}
		*into = int(n)
		return nil
	}
	name, _, err := str("name")
	if err != nil {
		return dc, err
	}
	dc.name = name
	for _, key := range []string{"type", "builder"} {
		s, ok, err := str(key)
		if err != nil {
			return dc, err
		}
		if ok && (s == "hvm" || s == "pvh" || s == "pv") {
			dc.typ = s
		}
	}
	if err := num("memory", &dc.memoryMB); err != nil {
		return dc, err
	}
	dc.maxMemoryMB = dc.memoryMB
	if err := num("maxmem", &dc.maxMemoryMB); err != nil {
		return dc, err
	}
	if err := num("vcpus", &dc.vcpus); err != nil {
		return dc, err
	}
	if dc.uuid, _, err = str("uuid"); err != nil {
		return dc, err
	}
	for key, into := range map[string]*string{"on_poweroff": &dc.onPoweroff, "on_reboot": &dc.onReboot, "on_crash": &dc.onCrash} {
		s, ok, err := str(key)
		if err != nil {
			return dc, err
		}
		if ok {
			*into = s
		}
	}
	if v, ok := settings["disk"]; ok {
		specs := v.list
		if !v.isList {
			specs = []string{v.atom}
		}
		for _, spec := range specs {
			d, err := parseDiskSpec(spec)
			if err != nil {
				return dc, fmt.Errorf("%s: %w", source, err)
			}
			dc.disks = append(dc.disks, d)
		}
	}
	if v, ok := settings["vif"]; ok {
		specs := v.list
		if !v.isList {
			specs = []string{v.atom}
		}
		for _, spec := range specs {
			var n Nic
			for _, part := range strings.Split(spec, ",") {
				k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
				switch k {
				case "bridge":
					n.Bridge = val
				case "mac":
					n.Mac = val
				}
			}
			dc.nics = append(dc.nics, n)
		}
	}
	return dc, nil
}

var diskFormats = map[string]bool{"raw": true, "qcow": true, "qcow2": true, "vhd": true, "qed": true, "empty": true}

// parseDiskSpec reads one xl disk specification: the legacy positional form
// 'phy:/dev/drbd0,xvda,w' (also 'drbd:r0,xvda,w' for the block-drbd script),
// the positional form 'target,format,vdev,access', and key=value parameters
// (target= must come last, as in xl-disk-configuration(5)).
func parseDiskSpec(spec string) (Disk, error) {
	d := Disk{Format: "raw", Write: true}
	var positional []string
	rest := spec
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		key, value, isKV := strings.Cut(part, "=")
		if !isKV {
			positional = append(positional, part)
			continue
		}
		switch key {
		case "target":
			if rest != "" {
				value += "," + rest
				rest = ""
			}
			d.Target = value
		case "vdev":
			d.Vdev = value
		case "access":
			d.Write = value == "w" || value == "rw"
		case "format":
			d.Format = value
		case "backendtype":
			d.Backend = value
		case "script":
			d.Script = value
		case "devtype":
		default:
			return d, fmt.Errorf("disk spec %q: unknown parameter %q", spec, key)
		}
	}
	if len(positional) > 0 && d.Target == "" {
		target := positional[0]
		positional = positional[1:]
		if prefix, path, ok := strings.Cut(target, ":"); ok && !strings.HasPrefix(target, "/") {
			switch prefix {
			case "phy":
				d.Backend = "phy"
			case "file", "tap", "aio":
				d.Backend = "qdisk"
				if f, p, ok := strings.Cut(path, ":"); ok && diskFormats[f] {
					d.Format, path = f, p
				}
			default:
				d.Backend, d.Script = "phy", "block-"+prefix
			}
			target = path
		} else if len(positional) > 0 && diskFormats[positional[0]] {
			d.Format = positional[0]
			positional = positional[1:]
		} else if len(positional) > 0 && positional[0] == "" {
			positional = positional[1:]
		}
		d.Target = target
		if len(positional) > 0 {
			d.Vdev = positional[0]
			positional = positional[1:]
		}
		if len(positional) > 0 {
			d.Write = positional[0] == "w" || positional[0] == "rw" || positional[0] == ""
			positional = positional[1:]
		}
		if len(positional) > 0 {
			return d, fmt.Errorf("disk spec %q: too many positional parameters", spec)
		}
	}
	if d.Vdev == "" {
		return d, fmt.Errorf("disk spec %q: no virtual device (vdev)", spec)
	}
	if d.Backend == "" {
		d.Backend = "qdisk"
		if strings.HasPrefix(d.Target, "/dev/") {
			d.Backend = "phy"
		}
	}
	return d, nil
}

// vbdNumber is the Xen virtual block device number of a vdev name, as in
// the backend path /local/domain/0/backend/vbd/DOMID/NUMBER.
func vbdNumber(vdev string) int {
	for _, p := range []struct {
		prefix string
		major  int
		shift  int
	}{{"xvd", 202, 4}, {"hd", 3, 6}, {"sd", 8, 4}} {
		if rest, ok := strings.CutPrefix(vdev, p.prefix); ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'z' {
			return p.major<<8 | int(rest[0]-'a')<<p.shift
		}
	}
	return 202 << 8
}

package man

import (
	"fmt"
	"strings"
	"time"

	"xhad/dsl"
)

// section is one .SS block of xhad.toml(5): a table (or the top level) and
// the keys directly in it.
type section struct {
	heading string // "[timing]", "[[node]]", `[[group.resource]] kind = "xen"`, "" for the top level
	doc     string
	keys    []dsl.KeyDoc
}

// tableHeading is how a table key is written in a TOML file.
func tableHeading(k dsl.KeyDoc) string {
	if k.Type == "array of tables" {
		return "[[" + k.Path + "]]"
	}
	return "[" + k.Path + "]"
}

func isTable(k dsl.KeyDoc) bool { return k.Type == "table" || k.Type == "array of tables" }

// sections groups dsl.Keys() by table, in documentation order; keys of one
// resource kind get a section of their own after the common resource keys.
func sections(keys []dsl.KeyDoc) []*section {
	top := &section{heading: "", doc: "Keys outside any table; write them before the first table."}
	out := []*section{top}
	byPath := map[string]*section{"": top}
	tables := map[string]dsl.KeyDoc{}
	for _, k := range keys {
		if isTable(k) {
			tables[k.Path] = k
			s := &section{heading: tableHeading(k), doc: k.Doc}
			byPath[k.Path] = s
			out = append(out, s)
			continue
		}
		parent := ""
		if i := strings.LastIndexByte(k.Path, '.'); i >= 0 {
			parent = k.Path[:i]
		}
		id := parent
		if k.Kind != "" {
			id = parent + "#" + string(k.Kind)
			if _, ok := byPath[id]; !ok {
				h := fmt.Sprintf("%s kind = %q", tableHeading(tables[parent]), k.Kind)
				s := &section{heading: h, doc: fmt.Sprintf("Keys of a resource of kind %s, besides the common resource keys.", k.Kind)}
				byPath[id] = s
				out = append(out, s)
			}
		}
		s, ok := byPath[id]
		if !ok {
			// A key whose table is not documented: keep it visible rather
			// than dropping it; the package's test flags the gap.
			s = &section{heading: "[" + parent + "]"}
			byPath[id] = s
			out = append(out, s)
		}
		s.keys = append(s.keys, k)
	}
	return out
}

// keyName is the name written inside the key's table.
func keyName(k dsl.KeyDoc) string {
	if i := strings.LastIndexByte(k.Path, '.'); i >= 0 {
		return k.Path[i+1:]
	}
	return k.Path
}

// XhadToml5 renders the xhad.toml(5) manual page (roff, man(7) macros) from
// dsl.Keys(): one section per table, and for every key its type, default (a
// TOML literal or the rule that computes it), unit, description and an
// example, so the page always matches what the parser accepts.
func XhadToml5() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH XHAD.TOML 5 \"%s\" %s %s\n", pageDate(time.Time{}), quoteArg("xhad"), quoteArg("File Formats"))
	b.WriteString(toml5Head)
	b.WriteString(".SH KEYS\n")
	for _, s := range sections(dsl.Keys()) {
		if s.heading == "" {
			b.WriteString(".SS \"Top level\"\n")
		} else {
			fmt.Fprintf(&b, ".SS %s\n", quoteArg(s.heading))
		}
		if s.doc != "" {
			b.WriteString(para(s.doc) + "\n")
		}
		for _, k := range s.keys {
			writeKey(&b, k)
		}
	}
	b.WriteString(toml5Tail)
	return []byte(b.String())
}

func writeKey(b *strings.Builder, k dsl.KeyDoc) {
	fmt.Fprintf(b, ".TP\n.B %s\n", escape(keyName(k)))
	line := italic(k.Type)
	if k.Unit != "" {
		line += " (" + escape(k.Unit) + ")"
	}
	switch {
	case k.Required:
		line += ", required."
	case k.Default != "":
		line += ", default: " + bold(k.Default) + "."
	default:
		line += ", optional."
	}
	b.WriteString(line + "\n.br\n")
	b.WriteString(para(k.Doc) + "\n")
	if k.Example != "" {
		b.WriteString(".br\nExample: " + bold(keyName(k)+" = "+k.Example) + "\n")
	}
}

const toml5Head = `.SH NAME
xhad.toml \- configuration file of the xhad two\-node HA daemon
.SH SYNOPSIS
.I /etc/xhad/xhad.toml
.SH DESCRIPTION
.BR xhad (8)
reads one TOML file, by default
.IR /etc/xhad/xhad.toml
(option
.B \-\-config
or
.BR XHAD_CONFIG ).
Use the
.I same
file on both nodes: it names both of them, and each node finds itself by its
name (the hostname, or
.BR "xhad run \-\-node" ).
.PP
Keys are kebab\-case.
An unknown key, a value of the wrong type or an impossible combination is an
error, and every error of a file is reported at once as
.IR FILE : LINE : COL ": " KEY ": "
what is wrong and what to write instead.
Check a file with
.BR "xhad check\-config" ,
which prints the normalised plan with every default, the start stages and the
stop order; a running daemon reads a changed file on
.B xhad reload
or SIGUSR2 and keeps the old one if the new one does not validate.
.PP
Durations are strings in Go syntax:
.BR """500ms""" ,
.BR """3s""" ,
.BR """1m30s""" ,
.BR """1h""" .
The decision loop counts them in ticks
.RB ( timing.tick ,
rounded up).
Files holding secrets (the key file, database credentials) must be owned by
root and have mode 0600, or the daemon refuses to start.
.PP
Resources are listed in start order inside their group.
Consecutive resources of the same kind form a stage and start in parallel (at
most
.B parallel
at once);
.B strict\-order
or
.B after
change that.
Resources stop in the reverse order, unless
.B stop\-order
says otherwise.
.PP
Each key below shows its type and its default: a TOML value, or the rule that
computes it from other keys.
A key marked
.I required
must be written.
`

const toml5Tail = `.SH EXAMPLE
One DRBD resource with an LVM volume group on it and one Xen domain, the
classic "LVM over DRBD" layout:
.PP
.EX
cluster = "xenpair"
auth\-key\-file = "/etc/xhad/authkey"

[[node]]
name = "xen1"
address = "10.0.0.1"
serial\-device = "/dev/ttyS0"
public\-address = "192.0.2.1"

[[node]]
name = "xen2"
address = "10.0.0.2"
serial\-device = "/dev/ttyS0"
public\-address = "192.0.2.2"

[timing]
keepalive = "500ms"

[[group]]
name = "main"
  [[group.resource]]
  name = "r0"
  kind = "drbd"
  [[group.resource]]
  name = "vg0"
  kind = "lvm"
  volume\-group = "vg0"
  [[group.resource]]
  name = "web"
  kind = "xen"
  config = "/etc/xen/web.cfg"
.EE
.PP
Create the key once and copy it to the other node:
.PP
.EX
(umask 077; head \-c 32 /dev/urandom > /etc/xhad/authkey)
scp \-p /etc/xhad/authkey xen2:/etc/xhad/authkey
.EE
.PP
Commented examples of every layout (DRBD over LVM with a group preferred on
each host, database domains in
.B both
mode) are installed in
.IR /usr/share/doc/xhad/examples/ .
.SH FILES
.TP
.I /etc/xhad/xhad.toml
The configuration file.
.TP
.I /usr/share/doc/xhad/examples/
Commented example configurations and DRBD handler snippets.
.SH SEE ALSO
.BR xhad (8),
.BR drbd.conf (5),
.BR xl.cfg (5)
`

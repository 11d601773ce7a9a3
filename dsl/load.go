package dsl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
)

// Options changes what Parse checks.
type Options struct {
	// SkipFileChecks leaves out the checks of the secret files (the auth key
	// file and the databases' credentials files): existence, owner, mode and
	// size. With it, Parse does not touch the file system at all.
	SkipFileChecks bool
}

// Load reads, validates and normalises the configuration file at path,
// including the checks of the secret files it names. On failure the error
// is an *Errors that lists every problem found.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Errors{Problems: []Problem{{File: path, Msg: fmt.Sprintf("cannot read the configuration: %v", err),
			Fix: "check the path given with --config or XHAD_CONFIG", Err: err}}}
	}
	return Parse(path, data, Options{})
}

// Parse validates and normalises configuration data; name is used in the
// messages and as Plan.File. On failure the error is an *Errors that lists
// every problem found.
func Parse(name string, data []byte, opts Options) (*Plan, error) {
	c := &checker{file: name}
	var root map[string]any
	if _, err := toml.Decode(string(data), &root); err != nil {
		c.probs = append(c.probs, syntaxProblem(name, data, err))
		return nil, &Errors{Problems: c.probs}
	}
	c.pos = indexPositions(data)
	b := &builder{checker: c, plan: &Plan{File: name}}
	b.build(root)
	if !opts.SkipFileChecks {
		for _, f := range b.files {
			b.checkSecretFile(f)
		}
	}
	if len(c.probs) > 0 {
		sortProblems(c.probs)
		return nil, &Errors{Problems: c.probs}
	}
	return b.plan, nil
}

// syntaxProblem turns the parser's error into a problem at its position.
func syntaxProblem(name string, data []byte, err error) Problem {
	p := Problem{File: name, Line: 1, Col: 1, Msg: "TOML syntax: " + err.Error(), Fix: "correct the syntax at this position (see https://toml.io)", Err: err}
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return p
	}
	p.Msg = "TOML syntax: " + strings.TrimSuffix(pe.Message, ".")
	p.Key = pe.LastKey
	src := data
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		src = src[3:] // the parser counts after the byte order mark
	}
	// The parser's own column is off by one at the start of a line; count
	// from the byte offset instead.
	if start := pe.Position.Start; start >= 0 && start <= len(src) {
		p.Line = 1 + bytes.Count(src[:start], []byte("\n"))
		p.Col = start - (bytes.LastIndexByte(src[:start], '\n') + 1) + 1
	} else if pe.Position.Line > 0 {
		p.Line = pe.Position.Line
	}
	return p
}

// checkSecretFile checks that a secret file exists, is a regular file owned
// by the daemon's user (root), is not accessible by group or others, and has
// at least minBytes.
func (b *builder) checkSecretFile(f fileCheck) {
	at := b.pos.locate(f.keyPath)
	problem := func(msg, fix string, err error) {
		b.problemAt(f.keyPath, at, msg, fix, err)
	}
	create := fmt.Sprintf("create it with: install -m 600 /dev/null %s", f.path)
	if f.minBytes >= 16 {
		create = fmt.Sprintf("create it on one node with: (umask 077; head -c 32 /dev/urandom > %s), then copy it to the other", f.path)
	}
	fi, err := os.Stat(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		problem(fmt.Sprintf("%s %s does not exist", f.what, f.path), create, err)
		return
	case err != nil:
		problem(fmt.Sprintf("cannot check %s %s: %v", f.what, f.path, err), "make it readable by root", err)
		return
	case !fi.Mode().IsRegular():
		problem(fmt.Sprintf("%s %s is not a regular file", f.what, f.path), "point the key at a regular file", nil)
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		problem(fmt.Sprintf("%s %s is owned by uid %d, not by uid %d that runs xhad; its owner could change it", f.what, f.path, st.Uid, os.Geteuid()),
			fmt.Sprintf("run: chown %d %s", os.Geteuid(), f.path), nil)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		problem(fmt.Sprintf("%s %s has mode %04o; group and others must have no access", f.what, f.path, perm),
			fmt.Sprintf("run: chmod 600 %s", f.path), nil)
	}
	if fi.Size() < f.minBytes {
		fix := `write "user:password" into it`
		if f.minBytes >= 16 {
			fix = fmt.Sprintf("write a longer key: (umask 077; head -c 32 /dev/urandom > %s), and copy it to the other node", f.path)
		}
		problem(fmt.Sprintf("%s %s has %d bytes, need at least %d", f.what, f.path, fi.Size(), f.minBytes), fix, nil)
	}
}

// NodeName returns the name of the node this process runs on: override (from
// --node or XHAD_NODE) when not empty, else the hostname. A hostname that is
// not a node name also matches by its first label ("xen1.example.com" is
// "xen1"). The name must be one of the plan's two nodes.
func NodeName(p *Plan, override string) (string, error) {
	return nodeName(p, override, os.Hostname)
}

func nodeName(p *Plan, override string, hostname func() (string, error)) (string, error) {
	a, b := p.Nodes[0].Name, p.Nodes[1].Name
	if override != "" {
		if _, ok := p.NodeByName(override); ok {
			return override, nil
		}
		return "", fmt.Errorf("node name %q from --node or XHAD_NODE is neither %q nor %q, the nodes of %s", override, a, b, p.File)
	}
	host, err := hostname()
	if err != nil {
		return "", fmt.Errorf("find this node's name: %w; set --node or XHAD_NODE to %q or %q", err, a, b)
	}
	if _, ok := p.NodeByName(host); ok {
		return host, nil
	}
	if short, _, found := strings.Cut(host, "."); found {
		if _, ok := p.NodeByName(short); ok {
			return short, nil
		}
	}
	return "", fmt.Errorf("hostname %q is neither %q nor %q, the nodes of %s; set --node or XHAD_NODE, or name the [[node]] after the host", host, a, b, p.File)
}

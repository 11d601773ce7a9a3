package man

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// Xhad8 renders the xhad(8) manual page (roff, man(7) macros) from app: the
// NAME line from app.Usage, a SYNOPSIS line and a COMMANDS entry for every
// visible command with its arguments and flags (defaults and environment
// variables included), and an ENVIRONMENT section listing every flag's
// environment variable. The hand-written sections describe what the command
// line does not: DESCRIPTION, STATES, SIGNALS, EXIT STATUS, FILES, SEE ALSO.
//
// Xhad8 only reads app: pass the application as main builds it (newApp());
// it works with or without app.Setup() having run, and leaves out hidden
// commands as well as the help command and --help flag urfave/cli adds.
func Xhad8(app *cli.App) ([]byte, error) {
	if app == nil {
		return nil, errors.New("render xhad(8): no cli.App given; pass the application main builds")
	}
	cmds := visibleCommands(app)
	if len(cmds) == 0 {
		return nil, fmt.Errorf("render xhad(8): app %q has no visible commands; pass the application main builds, not an empty one", app.Name)
	}
	var b strings.Builder
	version := app.Version
	if version == "" {
		version = "dev"
	}
	fmt.Fprintf(&b, ".TH XHAD 8 \"%s\" %s %s\n", pageDate(app.Compiled), quoteArg("xhad "+version), quoteArg("System Administration"))
	b.WriteString(".SH NAME\n")
	b.WriteString(para(app.Name+" - "+app.Usage) + "\n")

	b.WriteString(".SH SYNOPSIS\n")
	for i, c := range cmds {
		if i > 0 {
			b.WriteString(".br\n")
		}
		b.WriteString(strings.Join(wrap(synopsisLine(app.Name, c), maxLine), "\n") + "\n")
	}

	b.WriteString(descriptionSection)

	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		writeCommand(&b, app.Name, c)
	}

	b.WriteString(statesSection)
	b.WriteString(signalsSection)
	b.WriteString(exitStatusSection)
	writeEnvironment(&b, cmds)
	b.WriteString(filesSection)
	b.WriteString(seeAlsoSection)
	return []byte(b.String()), nil
}

// visibleCommands returns the commands a user may type: not hidden, and not
// the help command urfave/cli adds in Setup.
func visibleCommands(app *cli.App) []*cli.Command {
	var out []*cli.Command
	for _, c := range app.Commands {
		if c.Hidden || c.Name == "help" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// docFlags returns a command's documented flags in declaration order,
// without urfave/cli's injected --help.
func docFlags(c *cli.Command) []cli.DocGenerationFlag {
	var out []cli.DocGenerationFlag
	for _, f := range c.Flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		d, ok := f.(cli.DocGenerationFlag)
		if !ok || f.Names()[0] == "help" {
			continue
		}
		out = append(out, d)
	}
	return out
}

// flagName renders one flag name with its dashes: --config or -c.
func flagName(n string) string {
	if len([]rune(n)) == 1 {
		return bold("-" + n)
	}
	return bold("--" + n)
}

// flagText is a flag name with its dashes as plain text for para: `--config`.
func flagText(n string) string {
	if len([]rune(n)) == 1 {
		return "`-" + n + "`"
	}
	return "`--" + n + "`"
}

// placeholder is the value name of a flag: the backquoted word of its usage
// (urfave/cli's convention) or "VALUE".
func placeholder(f cli.DocGenerationFlag) (name, usage string) {
	name, usage = unquoteUsage(f.GetUsage())
	if name == "" {
		name = "VALUE"
	}
	return name, usage
}

// unquoteUsage splits urfave/cli's convention "configuration `FILE`" into the
// placeholder ("FILE") and the usage without backquotes, as its help does.
func unquoteUsage(usage string) (name, plain string) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage
	}
	name = usage[i+1 : i+1+j]
	return name, usage[:i] + name + usage[i+1+j+1:]
}

func synopsisLine(appName string, c *cli.Command) string {
	parts := []string{bold(appName + " " + c.Name)}
	for _, f := range docFlags(c) {
		s := "[" + flagName(f.Names()[0])
		if f.TakesValue() {
			ph, _ := placeholder(f)
			s += " " + italic(ph)
		}
		parts = append(parts, s+"]")
	}
	if c.ArgsUsage != "" {
		parts = append(parts, italic(c.ArgsUsage))
	}
	return strings.Join(parts, " ")
}

func writeCommand(b *strings.Builder, appName string, c *cli.Command) {
	title := appName + " " + strings.Join(c.Names(), ", ")
	if c.ArgsUsage != "" {
		title += " " + c.ArgsUsage
	}
	fmt.Fprintf(b, ".SS %s\n", quoteArg(title))
	if c.Usage != "" {
		b.WriteString(para(sentence(c.Usage)) + "\n")
	}
	if c.Description != "" {
		b.WriteString(".PP\n" + para(c.Description) + "\n")
	}
	for _, f := range docFlags(c) {
		var names []string
		for _, n := range f.Names() {
			names = append(names, flagName(n))
		}
		head := strings.Join(names, ", ")
		ph, usage := placeholder(f)
		if f.TakesValue() {
			head += " " + italic(ph)
		}
		b.WriteString(".TP\n" + head + "\n")
		var notes []string
		if f.TakesValue() {
			if d := strings.Trim(f.GetDefaultText(), `"`); d != "" {
				notes = append(notes, "default: "+d)
			}
		}
		if env := f.GetEnvVars(); len(env) > 0 {
			notes = append(notes, "environment: "+strings.Join(env, ", "))
		}
		text := sentence(usage)
		if len(notes) > 0 {
			text = strings.TrimSuffix(text, ".") + " (" + strings.Join(notes, "; ") + ")."
		}
		b.WriteString(para(text) + "\n")
	}
}

// sentence turns a usage string into prose: first letter capitalised, a
// period at the end.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}

// writeEnvironment lists every environment variable a flag reads, with the
// flags and commands that read it, then the ones systemd sets.
func writeEnvironment(b *strings.Builder, cmds []*cli.Command) {
	type use struct{ flag, usage string }
	uses := map[string][]string{}
	first := map[string]use{}
	for _, c := range cmds {
		for _, f := range docFlags(c) {
			for _, env := range f.GetEnvVars() {
				uses[env] = append(uses[env], c.Name)
				if _, ok := first[env]; !ok {
					_, usage := placeholder(f)
					first[env] = use{flag: f.Names()[0], usage: usage}
				}
			}
		}
	}
	names := make([]string, 0, len(uses))
	for n := range uses {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString(".SH ENVIRONMENT\n")
	for _, n := range names {
		u := first[n]
		fmt.Fprintf(b, ".TP\n%s\n", bold(n))
		text := fmt.Sprintf("%s, the same as %s (read by %s).", strings.TrimSuffix(sentence(u.usage), "."), flagText(u.flag), strings.Join(uses[n], ", "))
		b.WriteString(para(text) + "\n")
	}
	b.WriteString(systemdEnvironment)
}

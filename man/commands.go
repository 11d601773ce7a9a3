package man

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// Commands returns the hidden commands `gen-man 8|5` and
// `completion bash|zsh`, which write a manual page or a completion script to
// the app's Writer; packaging/build.sh runs them on the built binary. newApp
// builds a fresh application for xhad(8) (not the running one, whose help
// flags urfave/cli has already changed). Wire them in main.go with
//
//	Commands: append([]*cli.Command{ ... }, man.Commands(newApp)...),
func Commands(newApp func() *cli.App) []*cli.Command {
	return []*cli.Command{
		{
			Name:      "gen-man",
			Usage:     "write the manual page xhad(8) or xhad.toml(5) to standard output",
			ArgsUsage: "8|5",
			Hidden:    true,
			Action: func(c *cli.Context) error {
				var page []byte
				switch c.Args().First() {
				case "8":
					p, err := Xhad8(newApp())
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					page = p
				case "5":
					page = XhadToml5()
				default:
					return cli.Exit("usage: xhad gen-man 8|5 (xhad(8) or xhad.toml(5))", 2)
				}
				return write(c.App.Writer, "gen-man", page)
			},
		},
		{
			Name:      "completion",
			Usage:     "write the bash or zsh completion script to standard output",
			ArgsUsage: "bash|zsh",
			Hidden:    true,
			Action: func(c *cli.Context) error {
				switch c.Args().First() {
				case "bash":
					return write(c.App.Writer, "completion", []byte(BashCompletion()))
				case "zsh":
					return write(c.App.Writer, "completion", []byte(ZshCompletion()))
				}
				return cli.Exit("usage: xhad completion bash|zsh", 2)
			},
		},
	}
}

func write(w io.Writer, cmd string, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return cli.Exit(fmt.Sprintf("xhad %s: write to standard output: %v", cmd, err), 1)
	}
	return nil
}

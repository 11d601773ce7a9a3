// Command xhad is a two-node active/standby HA daemon for Xen dom0 hosts.
//
// This file only wires the command line to the packages; it holds no logic.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"xhad/internal/sim"
)

// version is stamped by `make build` (-ldflags -X main.version=...).
var version = "dev"

const defaultConfig = "/etc/xhad/xhad.toml"

// errNotBuilt is returned by subcommands whose capability is not written yet.
var errNotBuilt = errors.New("not built yet in this version of xhad")

func main() {
	// Simulators can be installed under the real tool names (symlinks to xhad)
	// and put first in PATH by tests and the demo.
	switch base := filepath.Base(os.Args[0]); base {
	case "xl", "drbdadm":
		os.Exit(sim.Run(base, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	if err := newApp().Run(os.Args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "xhad:", msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "xhad:", err)
		os.Exit(1)
	}
}

func configFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage:   "configuration `FILE`",
		Value:   defaultConfig,
		EnvVars: []string{"XHAD_CONFIG"},
	}
}

func notBuilt(what string) cli.ActionFunc {
	return func(*cli.Context) error {
		return cli.Exit(fmt.Sprintf("%s: %v", what, errNotBuilt), 2)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "xhad",
		Usage:                "two-node HA daemon for Xen dom0 hosts (DRBD, LVM, Xen domains, service IPs)",
		Version:              version,
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "run the daemon (under systemd: Type=notify)",
				Flags:  []cli.Flag{configFlag()},
				Action: notBuilt("run"),
			},
			{
				Name:   "status",
				Usage:  "show role, peer, links, groups, resources and fencing",
				Flags:  []cli.Flag{configFlag(), &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
				Action: notBuilt("status"),
			},
			{
				Name:   "standby",
				Usage:  "hand every group to the peer and stay standby (same as SIGHUP)",
				Flags:  []cli.Flag{configFlag()},
				Action: notBuilt("standby"),
			},
			{
				Name:   "takeover",
				Usage:  "take every group over, also as a lone node (same as SIGUSR1)",
				Flags:  []cli.Flag{configFlag(), &cli.BoolFlag{Name: "force", Usage: "override the database replication gate (logged)"}},
				Action: notBuilt("takeover"),
			},
			{
				Name:      "maintenance",
				Usage:     "stop acting (no failover, no monitoring) while leaving resources as they are",
				ArgsUsage: "on|off",
				Flags:     []cli.Flag{configFlag()},
				Action:    notBuilt("maintenance"),
			},
			{
				Name:   "reload",
				Usage:  "re-read the configuration; an invalid one is refused and the old plan kept (same as SIGUSR2)",
				Flags:  []cli.Flag{configFlag()},
				Action: notBuilt("reload"),
			},
			{
				Name:   "check-config",
				Usage:  "validate the configuration and print the normalised plan",
				Flags:  []cli.Flag{configFlag(), &cli.BoolFlag{Name: "json", Usage: "print the plan as JSON"}},
				Action: checkConfig,
			},
			{
				Name:   "fence-peer",
				Usage:  "DRBD fence-peer handler: outdate the peer's disk over any live link",
				Flags:  []cli.Flag{configFlag()},
				Action: notBuilt("fence-peer"),
			},
			{
				Name:   "unfence",
				Usage:  "lift the peer fence and/or the self fence",
				Flags:  []cli.Flag{configFlag(), &cli.BoolFlag{Name: "peer"}, &cli.BoolFlag{Name: "self"}},
				Action: notBuilt("unfence"),
			},
			{
				Name:   "demo",
				Usage:  "run a two-node cluster on this machine with simulated Xen and DRBD",
				Action: notBuilt("demo"),
			},
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "xhad %s\n", version)
					return nil
				},
			},
			{
				Name:            "sim",
				Usage:           "simulated xl and drbdadm for tests and the demo",
				ArgsUsage:       "xl|drbdadm|ctl ARGS...",
				Hidden:          true,
				SkipFlagParsing: true,
				Action: func(c *cli.Context) error {
					if c.NArg() < 1 {
						return cli.Exit("usage: xhad sim xl|drbdadm|ctl ARGS...", 2)
					}
					code := sim.Run(c.Args().First(), c.Args().Tail(), os.Stdin, os.Stdout, os.Stderr, os.Getenv)
					if code != 0 {
						return cli.Exit("", code)
					}
					return nil
				},
			},
		},
	}
}

func checkConfig(c *cli.Context) error {
	return notBuilt("check-config")(c)
}

// Command xhad is a two-node active/standby HA daemon for Xen dom0 hosts.
//
// This file only wires the command line to the packages; it holds no logic.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"xhad/daemon"
	"xhad/daemon/control"
	"xhad/daemon/logs"
	"xhad/dbrepl"
	"xhad/dsl"
	"xhad/fence"
	"xhad/internal/demo"
	"xhad/internal/runner"
	"xhad/internal/sim"
	"xhad/man"
	"xhad/resources"
)

// version is stamped by `make build` (-ldflags -X main.version=...).
var version = "dev"

const defaultConfig = "/etc/xhad/xhad.toml"

func main() {
	// Simulators can be installed under the real tool names (symlinks to xhad)
	// and put first in PATH by tests and the demo.
	switch base := filepath.Base(os.Args[0]); base {
	case "xl", "drbdadm", "ping", "vgchange", "vgs":
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

func newApp() *cli.App {
	return &cli.App{
		Name:                 "xhad",
		Usage:                "two-node HA daemon for Xen dom0 hosts (DRBD, LVM, Xen domains, service IPs)",
		Version:              version,
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands: append([]*cli.Command{
			{
				Name:  "run",
				Usage: "run the daemon (under systemd: Type=notify)",
				Flags: []cli.Flag{configFlag(),
					&cli.StringFlag{Name: "node", Usage: "this node's `NAME` (default: the hostname)", EnvVars: []string{"XHAD_NODE"}},
					&cli.BoolFlag{Name: "force-main", Aliases: []string{"m"}, Usage: "a lone node may take over after deadtime (the peer is known to be dead)"},
				},
				Action: runDaemon,
			},
			{
				Name:   "status",
				Usage:  "show role, peer, links, groups, resources and fencing",
				Flags:  []cli.Flag{configFlag(), socketFlag(), &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
				Action: func(c *cli.Context) error { return ctlCommand(c, control.Request{Cmd: "status"}) },
			},
			{
				Name:   "standby",
				Usage:  "hand every group to the peer and stay standby (same as SIGHUP)",
				Flags:  []cli.Flag{configFlag(), socketFlag(), &cli.BoolFlag{Name: "json"}},
				Action: func(c *cli.Context) error { return ctlCommand(c, control.Request{Cmd: "standby"}) },
			},
			{
				Name:  "takeover",
				Usage: "take every group over, also as a lone node (same as SIGUSR1); also acknowledges an anti-flapping hold",
				Flags: []cli.Flag{configFlag(), socketFlag(), &cli.BoolFlag{Name: "json"},
					&cli.BoolFlag{Name: "force", Usage: "override the database replication gate (logged)"}},
				Action: func(c *cli.Context) error {
					return ctlCommand(c, control.Request{Cmd: "takeover", Args: map[string]string{"force": fmt.Sprint(c.Bool("force"))}})
				},
			},
			{
				Name:      "maintenance",
				Usage:     "stop acting (no failover, no monitoring) while leaving resources as they are",
				ArgsUsage: "on|off",
				Flags:     []cli.Flag{configFlag(), socketFlag(), &cli.BoolFlag{Name: "json"}},
				Action: func(c *cli.Context) error {
					mode := c.Args().First()
					if mode != "on" && mode != "off" || c.NArg() != 1 {
						return cli.Exit("usage: xhad maintenance on|off", 2)
					}
					return ctlCommand(c, control.Request{Cmd: "maintenance", Args: map[string]string{"mode": mode}})
				},
			},
			{
				Name:   "reload",
				Usage:  "re-read the configuration; an invalid one is refused and the old plan kept (same as SIGUSR2)",
				Flags:  []cli.Flag{configFlag(), socketFlag(), &cli.BoolFlag{Name: "json"}},
				Action: func(c *cli.Context) error { return ctlCommand(c, control.Request{Cmd: "reload"}) },
			},
			{
				Name:  "check-config",
				Usage: "validate the configuration and print the normalised plan",
				Flags: []cli.Flag{configFlag(), &cli.BoolFlag{Name: "json", Usage: "print the plan as JSON"},
					&cli.StringFlag{Name: "lvm-conf", Value: "/etc/lvm/lvm.conf", Usage: "LVM configuration whose filter must hide the DRBD backing devices"}},
				Action: checkConfig,
			},
			{
				Name:   "fence-peer",
				Usage:  "DRBD fence-peer handler: ask the peer over any live link to outdate its disk; exits with DRBD's codes",
				Flags:  []cli.Flag{configFlag(), socketFlag()},
				Action: fencePeer,
			},
			{
				Name:  "unfence",
				Usage: "lift the peer fence and/or the self fence (both without --peer/--self); also DRBD's unfence-peer handler",
				Flags: []cli.Flag{configFlag(), socketFlag(), &cli.BoolFlag{Name: "json"},
					&cli.BoolFlag{Name: "peer", Usage: "lift the peer fence"}, &cli.BoolFlag{Name: "self", Usage: "lift the self fence"}},
				Action: unfence,
			},
			{
				Name:  "db-rejoin",
				Usage: "turn an old PostgreSQL primary (stopped) into a standby of the new one: pg_rewind, primary_conninfo, standby.signal; it never comes back as a second primary",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data-dir", Required: true, Usage: "the old primary's data `DIR`"},
					&cli.StringFlag{Name: "source", Required: true, Usage: "libpq `CONNINFO` of the new primary for pg_rewind"},
					&cli.StringFlag{Name: "primary-conninfo", Required: true, Usage: "primary_conninfo to write (replication to the new primary)"},
					&cli.StringFlag{Name: "bin-dir", Value: "/usr/lib/postgresql/15/bin", Usage: "PostgreSQL binaries"},
					&cli.StringFlag{Name: "run-as", Value: "postgres", Usage: "owner of the data directory"},
				},
				Action: func(c *cli.Context) error {
					rep, err := dbrepl.Rejoin(c.Context, runner.Exec{}, dbrepl.RejoinOptions{
						DataDir: c.String("data-dir"), BinDir: c.String("bin-dir"), RunAs: c.String("run-as"),
						SourceServer: c.String("source"), PrimaryConninfo: c.String("primary-conninfo"),
					})
					for _, step := range rep.Steps {
						fmt.Fprintln(c.App.Writer, step)
					}
					if err != nil {
						return cli.Exit("db-rejoin: "+err.Error(), 1)
					}
					return nil
				},
			},
			{
				Name:  "demo",
				Usage: "run a two-node cluster on this machine with simulated Xen and DRBD, and watch it fail over",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "script", Value: "tour", Usage: "scenario: " + strings.Join(demo.Scripts, ", ")},
					&cli.BoolFlag{Name: "json", Usage: "one JSON object per event, then a summary"},
					&cli.BoolFlag{Name: "keep", Usage: "keep the work directory (logs, state) afterwards"},
				},
				Action: func(c *cli.Context) error {
					err := demo.Run(c.Context, demo.Options{Out: c.App.Writer, JSON: c.Bool("json"), Script: c.String("script"), Keep: c.Bool("keep")})
					if err != nil {
						return cli.Exit("demo: "+err.Error(), 1)
					}
					return nil
				},
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
				ArgsUsage:       "xl|drbdadm|ping|ctl ARGS...",
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
		}, man.Commands(newApp)...),
	}
}

func socketFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "socket", Usage: "control socket `PATH` (default: control-socket from the configuration)", EnvVars: []string{"XHAD_SOCKET"}}
}

func checkConfig(c *cli.Context) error {
	p, err := dsl.Load(c.String("config"))
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	for _, w := range resources.LVMFilterWarnings(c.Context, p, runner.Exec{}, c.String("lvm-conf")) {
		fmt.Fprintln(c.App.ErrWriter, "warning:", w)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return dsl.RenderText(c.App.Writer, p)
}

func runDaemon(c *cli.Context) error {
	level := slog.LevelInfo
	if p, err := dsl.Load(c.String("config")); err == nil {
		if l, err := logs.ParseLevel(p.LogLevel); err == nil {
			level = l
		}
	}
	lg := logs.New(os.Stderr, level, os.Getenv("JOURNAL_STREAM") != "")
	err := daemon.Run(context.Background(), daemon.Options{
		ConfigPath: c.String("config"),
		Node:       c.String("node"),
		ForceMain:  c.Bool("force-main"),
		Logger:     lg,
	})
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

// fencePeer is what DRBD runs as its fence-peer handler. It never exits 0
// or 1 (DRBD reads both as "handler broken"): every path ends in one of the
// codes of fence.ExitFor, within fencing.fence-peer-timeout.
func fencePeer(c *cli.Context) error {
	env, err := fence.ParseHandlerEnv(os.Getenv)
	if err != nil {
		return cli.Exit("xhad fence-peer: "+err.Error(), fence.ExitNotFenced)
	}
	timeout := fence.DefaultHandlerTimeout
	sock := c.String("socket")
	p, loadErr := dsl.Load(c.String("config"))
	if loadErr == nil {
		timeout = p.Fencing.FencePeerTimeout
		if sock == "" {
			sock = p.ControlSocket
		}
	} else if sock == "" {
		sock = control.DefaultSocketPath
	}
	code, why := fence.Decide(c.Context, timeout, func(ctx context.Context) fence.Outcome {
		resp, err := control.Call(ctx, sock, control.Request{Cmd: "fence-peer", Args: map[string]string{"resource": env.Resource, "timeout": timeout.String()}})
		switch {
		case errors.Is(err, control.ErrNotRunning):
			if loadErr != nil {
				return fence.Outcome{Kind: fence.DaemonNotRunning}
			}
			return fence.DaemonDownOutcome(ctx, fence.NewNFT(daemon.FenceConfig(p, nodeNameOrEmpty(p))))
		case err != nil:
			return fence.Outcome{Kind: fence.PeerUnreachable, Stderr: err.Error()}
		case !resp.OK && strings.Contains(resp.Error, "no reply from the peer on any link"):
			return fence.Outcome{Kind: fence.PeerUnreachable, Stderr: resp.Error}
		case !resp.OK:
			return fence.Outcome{Kind: fence.TimedOut, Stderr: resp.Error}
		}
		var rep daemon.PeerReply
		if err := json.Unmarshal(resp.Data, &rep); err != nil {
			return fence.Outcome{Kind: fence.PeerUnreachable, Stderr: err.Error()}
		}
		return fence.Outcome{Kind: fence.PeerReplied, Code: rep.ExitCode, Stderr: rep.Stderr}
	})
	fmt.Fprintf(c.App.ErrWriter, "xhad fence-peer %s: exit %d: %s\n", env.Resource, code, why)
	return cli.Exit("", code)
}

func nodeNameOrEmpty(p *dsl.Plan) string {
	n, _ := dsl.NodeName(p, os.Getenv("XHAD_NODE"))
	return n
}

// unfence lifts fences through the daemon, or directly in nftables when the
// daemon is not running (DRBD's unfence-peer handler may run then).
func unfence(c *cli.Context) error {
	peer, self := c.Bool("peer"), c.Bool("self")
	err := ctlCommand(c, control.Request{Cmd: "unfence", Args: map[string]string{"peer": fmt.Sprint(peer), "self": fmt.Sprint(self)}})
	var ec cli.ExitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != 3 {
		return err
	}
	p, loadErr := dsl.Load(c.String("config"))
	if loadErr != nil {
		return cli.Exit(fmt.Sprintf("xhad is not running and the configuration cannot be read: %v", loadErr), 1)
	}
	if !peer && !self {
		peer, self = true, true
	}
	if err := fence.NewNFT(daemon.FenceConfig(p, nodeNameOrEmpty(p))).Unfence(c.Context, peer, self); err != nil {
		return cli.Exit("unfence: "+err.Error(), 1)
	}
	fmt.Fprintln(c.App.Writer, "unfence: done (xhad not running: nftables changed directly)")
	return nil
}

// ctlCommand sends one request to the running daemon and prints its answer.
func ctlCommand(c *cli.Context, req control.Request) error {
	path := c.String("socket")
	if path == "" {
		p, err := dsl.Load(c.String("config"))
		if err != nil {
			return cli.Exit(fmt.Sprintf("cannot find the control socket: %v\n(use --socket PATH)", err), 1)
		}
		path = p.ControlSocket
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, path, req)
	if err != nil {
		return cli.Exit(err.Error(), 3)
	}
	if !resp.OK {
		return cli.Exit(fmt.Sprintf("%s: %s", req.Cmd, resp.Error), 1)
	}
	if c.Bool("json") {
		_, err := fmt.Fprintln(c.App.Writer, string(resp.Data))
		return err
	}
	st, err := daemon.DecodeStatus(resp.Data)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if req.Cmd != "status" {
		fmt.Fprintf(c.App.Writer, "%s: done", req.Cmd)
		if len(st.Pending) > 0 {
			fmt.Fprintf(c.App.Writer, " (now: %v)", st.Pending)
		}
		fmt.Fprintln(c.App.Writer)
		if st.LastDecision != nil {
			fmt.Fprintf(c.App.Writer, "last decision: %s (why: %s)\n", st.LastDecision.Msg, st.LastDecision.Why)
		}
		return nil
	}
	return daemon.RenderStatus(c.App.Writer, st, time.Now())
}

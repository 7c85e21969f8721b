package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/client"
	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/core/diag"
)

// Exit codes of the client commands, for scripts.
const (
	exitOK           = 0 // done; for status: agent up and every enabled, installed collector running
	exitError        = 1 // the agent answered with an error (bad interval, required collector, 5xx)
	exitUsage        = 2 // bad command line
	exitUnreachable  = 3 // no answer from the agent (not running, wrong --addr, timeout)
	exitNotFound     = 4 // unknown collector
	exitUnauthorized = 5 // token missing or wrong
	exitDegraded     = 6 // status only: an enabled, installed collector is not running
)

const defaultAddr = "127.0.0.1:8043"

// clientUsage is the help of the client commands; the interval bounds are
// core/config's, the ones the agent enforces.
var clientUsage = fmt.Sprintf(`Usage:
  towerd [serve] [flags]                     run the agent (towerd serve --help lists its flags)
  towerd collectors list                     collectors with state, interval, restarts, last error
  towerd collectors enable NAME              enable a collector (persisted)
  towerd collectors disable NAME             disable a collector (persisted)
  towerd collectors interval NAME SECONDS    set a collector's interval, %d-%d (persisted)
  towerd status                              agent health, host summary and collectors
  towerd mcp                                 MCP server over stdin/stdout for local AI clients (towerd mcp --help)
  towerd diagnostics [-o FILE]               save a diagnostics zip for a bug report (secrets
                                             redacted; default towerd-diagnostics-HOST-TIME.zip)

Flags of the client commands (before or after the command):
  --addr HOST:PORT   agent address (env TOWERD_ADDR, default 127.0.0.1:8043)
  --token TOKEN      API token (env TOWERD_TOKEN)
  --json             print the agent's JSON instead of a table
  --timeout DUR      give up after this long (default 15s)

Exit codes: 0 ok, 1 the agent refused the request, 2 usage, 3 agent unreachable,
4 unknown collector, 5 unauthorized, 6 (status) a collector is not running.
`, config.MinIntervalSeconds, config.MaxIntervalSeconds)

// isClientCommand reports whether name is a client subcommand.
func isClientCommand(name string) bool {
	return name == "collectors" || name == "status" || name == "diagnostics" || name == "help"
}

// clientCommandAt returns the index of the client command in args when
// only client flags precede it (towerd --addr H:P collectors list), else -1.
func clientCommandAt(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if isClientCommand(a) {
			return i
		}
		if !strings.HasPrefix(a, "-") || a == "--" {
			return -1
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "json":
		case "addr", "token", "timeout", "o", "output":
			if !hasValue {
				i++ // the value is the next argument
			}
		default:
			return -1 // a serve flag: this is towerd serve
		}
	}
	return -1
}

// runClient runs a client subcommand (see isClientCommand).
func runClient(args []string, stdout, stderr io.Writer) int {
	if args[0] == "help" {
		fmt.Fprint(stdout, clientUsage)
		return exitOK
	}
	fs := flag.NewFlagSet("towerd "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), clientUsage) }
	addr := fs.String("addr", envOr("TOWERD_ADDR", defaultAddr), "agent address")
	token := fs.String("token", os.Getenv("TOWERD_TOKEN"), "API token")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", 15*time.Second, "request timeout")
	output := fs.String("o", "", "diagnostics: file to write")
	fs.StringVar(output, "output", "", "diagnostics: file to write")
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	c, err := client.New(*addr, *token)
	if err != nil {
		fmt.Fprintln(stderr, "towerd:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cli := &cliRun{c: c, ctx: ctx, json: *asJSON, stdout: stdout, stderr: stderr}

	if args[0] == "diagnostics" {
		if len(pos) != 0 {
			return cli.usage("diagnostics takes no arguments (the file is -o FILE)")
		}
		return cli.diagnostics(*output)
	}
	if args[0] == "status" {
		if len(pos) != 0 {
			return cli.usage("status takes no arguments")
		}
		return cli.status()
	}
	if len(pos) == 0 {
		return cli.usage("collectors needs a subcommand: list, enable, disable or interval")
	}
	switch sub, rest := pos[0], pos[1:]; sub {
	case "list", "ls":
		if len(rest) != 0 {
			return cli.usage("collectors list takes no arguments")
		}
		return cli.list()
	case "enable", "disable":
		if len(rest) != 1 {
			return cli.usage("collectors " + sub + " needs one collector NAME")
		}
		return cli.action(c.SetEnabled(ctx, rest[0], sub == "enable"))
	case "interval":
		if len(rest) != 2 {
			return cli.usage("collectors interval needs NAME and SECONDS")
		}
		secs, err := strconv.Atoi(rest[1])
		if err != nil {
			return cli.usage("SECONDS must be a whole number, not " + strconv.Quote(rest[1]))
		}
		return cli.action(c.SetInterval(ctx, rest[0], secs))
	default:
		return cli.usage("unknown collectors subcommand " + strconv.Quote(sub))
	}
}

// parseInterspersed parses flags before, between and after positional
// arguments, which the flag package alone stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

type cliRun struct {
	c              *client.Client
	ctx            context.Context
	json           bool
	stdout, stderr io.Writer
}

func (r *cliRun) usage(msg string) int {
	fmt.Fprintf(r.stderr, "towerd: %s\n\n%s", msg, clientUsage)
	return exitUsage
}

// fail reports err and maps it to an exit code.
func (r *cliRun) fail(err error) int {
	fmt.Fprintln(r.stderr, "towerd:", err)
	var ae *client.APIError
	switch {
	case errors.Is(err, client.ErrUnreachable):
		return exitUnreachable
	case errors.As(err, &ae) && ae.Status == 401, errors.As(err, &ae) && ae.Status == 403:
		return exitUnauthorized
	case errors.As(err, &ae) && ae.Status == 404:
		return exitNotFound
	}
	return exitError
}

func (r *cliRun) printJSON(raw []byte) {
	var v any
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			raw = b
		}
	}
	fmt.Fprintln(r.stdout, string(raw))
}

func (r *cliRun) action(res client.ActionResult, raw []byte, err error) int {
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		r.printJSON(raw)
	} else {
		fmt.Fprintln(r.stdout, res.Message)
	}
	return exitOK
}

func (r *cliRun) list() int {
	l, raw, err := r.c.Collectors(r.ctx)
	if err != nil {
		return r.fail(err)
	}
	if r.json {
		r.printJSON(raw)
		return exitOK
	}
	r.table(l.Collectors)
	return exitOK
}

func (r *cliRun) table(cs []api.CollectorStatus) {
	tw := tabwriter.NewWriter(r.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENABLED\tSTATUS\tINTERVAL\tRESTARTS\tERRORS\tLAST COLLECT\tLAST SUCCESS\tLAST ERROR")
	for _, c := range cs {
		last, ok := "-", "-"
		if c.LastCollectMillis > 0 {
			last = strconv.FormatFloat(c.LastCollectMillis, 'f', 1, 64) + "ms"
		}
		if !c.LastSuccess.IsZero() {
			ok = time.Since(c.LastSuccess).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%ds\t%d\t%d\t%s\t%s\t%s\n", c.Name, yesNo(c.Enabled), c.Status,
			c.IntervalSeconds, c.Restarts, c.ErrorCount, last, ok, oneLine(c.LastError, 60))
	}
	tw.Flush()
}

// degraded lists enabled, installed collectors that are not running.
func degraded(cs []api.CollectorStatus) []string {
	var out []string
	for _, c := range cs {
		if c.Enabled && c.Installed && c.Status != "running" {
			out = append(out, c.Name+" ("+c.Status+")")
		}
	}
	return out
}

func (r *cliRun) status() int {
	if err := r.c.Health(r.ctx); err != nil {
		return r.fail(err)
	}
	l, _, err := r.c.Collectors(r.ctx)
	if err != nil {
		return r.fail(err)
	}
	sys, err := r.c.System(r.ctx)
	if err != nil {
		return r.fail(err)
	}
	bad := degraded(l.Collectors)
	if r.json {
		out := map[string]any{
			"addr": r.c.Base(), "health": "ok", "healthy": len(bad) == 0, "not_running": bad,
			"system": sys, "collectors": l.Collectors,
		}
		if bad == nil {
			out["not_running"] = []string{}
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(r.stdout, string(b))
	} else {
		running := 0
		for _, c := range l.Collectors {
			if c.Status == "running" {
				running++
			}
		}
		fmt.Fprintf(r.stdout, "towerd at %s: ok\n", r.c.Base())
		fmt.Fprintf(r.stdout, "host %s, version %s, up %s, cpu %.1f%%, ram %.1f%%\n", sys.Hostname, orDash(sys.Version),
			(time.Duration(sys.UptimeSeconds) * time.Second).String(), sys.CPUUsagePercent, sys.RAMUsagePercent)
		fmt.Fprintf(r.stdout, "collectors: %d, %d enabled, %d running\n", l.Total, l.EnabledCount, running)
		if len(bad) > 0 {
			fmt.Fprintf(r.stdout, "NOT RUNNING: %s\n", strings.Join(bad, ", "))
		}
		fmt.Fprintln(r.stdout)
		r.table(l.Collectors)
	}
	if len(bad) > 0 {
		return exitDegraded
	}
	return exitOK
}

// diagnostics saves the agent's diagnostics bundle to file (or a name with
// the host and time in the current directory).
func (r *cliRun) diagnostics(file string) int {
	raw, err := r.c.Do(r.ctx, "GET", diag.BundlePath, nil, nil)
	if err != nil {
		return r.fail(err)
	}
	if file == "" {
		host := strings.TrimPrefix(strings.TrimPrefix(r.c.Base(), "http://"), "https://")
		file = diag.FileName(host, time.Now())
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		fmt.Fprintln(r.stderr, "towerd:", err)
		return exitError
	}
	fmt.Fprintf(r.stdout, "diagnostics saved to %s (%d bytes)\n", file, len(raw))
	return exitOK
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

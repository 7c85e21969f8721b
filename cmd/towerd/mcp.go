package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/client"
	"github.com/towerd/towerd/core/mcp"
	"github.com/towerd/towerd/sdk"
)

const mcpUsage = `Usage: towerd mcp [--addr HOST:PORT] [--token TOKEN] [--read-only=false]

Serves the Model Context Protocol over stdin/stdout for a local AI client
(Claude Desktop, an IDE…), in front of the running agent: every tool is a
REST request to it. Logs go to stderr.

Flags:
  --addr HOST:PORT   agent address (env TOWERD_ADDR, default 127.0.0.1:8043)
  --token TOKEN      API token (env TOWERD_TOKEN)
  --read-only        offer only read tools (default true); =false adds one
                     tool per collector action
`

// runMCP is `towerd mcp`.
func runMCP(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("towerd mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), mcpUsage) }
	addr := fs.String("addr", envOr("TOWERD_ADDR", defaultAddr), "agent address")
	token := fs.String("token", os.Getenv(TokenEnv), "API token")
	readOnly := fs.Bool("read-only", true, "offer only read tools")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "towerd mcp: unexpected argument %q\n\n%s", fs.Arg(0), mcpUsage)
		return exitUsage
	}
	c, err := client.New(*addr, *token)
	if err != nil {
		fmt.Fprintln(stderr, "towerd mcp:", err)
		return exitUsage
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "towerd-mcp", Level: hclog.Info, Output: stderr})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := c.Health(ctx); err != nil {
		// Not fatal: the client may start before the agent; tools answer
		// with the error until it is up.
		log.Warn("agent not answering yet", "addr", c.Base(), "error", err)
	}
	srv := mcp.New(mcp.ClientBackend(c), mcp.Options{ReadOnly: *readOnly, Version: sdk.Version, Logger: log})
	if err := srv.RunIO(ctx, os.Stdin, stdout); err != nil && ctx.Err() == nil {
		log.Error("MCP session ended", "error", err)
		return exitError
	}
	return exitOK
}

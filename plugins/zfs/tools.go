package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/towerd/towerd/plugins/internal/bundle"
	"github.com/towerd/towerd/plugins/internal/health"
	"github.com/towerd/towerd/sdk"
)

var log = sdk.Logger("zfs")

// maxToolOutput bounds what one zpool/zfs run may print; thousands of
// snapshots are well under it.
const maxToolOutput = 4 << 20

// tools runs zpool and zfs for the collectors of the bundle and logs once
// when they stop or start working.
type tools struct {
	mu  sync.Mutex
	src *health.Source
}

// toolPath is the option's value, else <root>/usr/sbin/NAME when present
// (the fixture tree ships stand-ins there), else NAME from PATH.
func toolPath(c *bundle.Collector, name string) string {
	if p := c.Opt(name); p != "" {
		return p
	}
	if p := c.Path("usr/sbin/" + name); fileExists(p) {
		return p
	}
	return name
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// errNoZFS means the tools are missing or no ZFS module is loaded: the
// collectors then report empty lists, not errors.
var errNoZFS = errors.New("ZFS is not available")

// run runs tool with args (fixed by this plugin, never from a request)
// and returns its stdout lines.
func (t *tools) run(ctx context.Context, c *bundle.Collector, tool string, args ...string) ([]string, error) {
	path := toolPath(c, tool)
	if _, err := exec.LookPath(path); err != nil {
		t.report(fmt.Errorf("%s: %w", tool, errNoZFS))
		return nil, errNoZFS
	}
	var out, errOut limited
	out.max, errOut.max = maxToolOutput, 8<<10
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "LC_ALL=C") // the core already gives plugins a minimal environment
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if out.over {
		return nil, fmt.Errorf("%s %s printed more than %d bytes", tool, strings.Join(args, " "), maxToolOutput)
	}
	if err != nil {
		msg := strings.TrimSpace(string(errOut.buf))
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", tool, args[0], ctx.Err())
		}
		// No module, no /dev/zfs, no pools: ZFS is not in use here.
		if strings.Contains(msg, "modules are not loaded") || strings.Contains(msg, "/dev/zfs") || strings.Contains(msg, "no datasets available") || strings.Contains(msg, "no pools available") {
			t.report(fmt.Errorf("%s: %s: %w", tool, msg, errNoZFS))
			return nil, errNoZFS
		}
		return nil, fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, msg)
	}
	t.report(nil)
	s := strings.TrimRight(string(out.buf), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// rows runs tool like run and splits each line at tabs (the -H output of
// zpool and zfs), dropping lines with fewer than minFields fields.
func (t *tools) rows(ctx context.Context, c *bundle.Collector, minFields int, tool string, args ...string) ([][]string, error) {
	lines, err := t.run(ctx, c, tool, args...)
	var out [][]string
	for _, l := range lines {
		if f := strings.Split(l, "\t"); len(f) >= minFields {
			out = append(out, f)
		}
	}
	return out, err
}

// listing makes a collector whose payload is the list collect returns,
// with the tools it runs as path options. Missing ZFS is an empty list,
// not an error: most servers have no pool.
func listing[T any](info sdk.Info, collect func(context.Context, *bundle.Collector) ([]T, error), tools ...string) *bundle.Collector {
	opts := map[string]string{}
	for _, tool := range tools {
		opts[tool] = ""
	}
	c := bundle.New(info, opts)
	c.CollectFunc = func(ctx context.Context, c *bundle.Collector) (any, error) {
		out, err := collect(ctx, c)
		if errors.Is(err, errNoZFS) || (err == nil && out == nil) {
			return []T{}, nil
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return c
}

func (t *tools) report(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == nil {
		t.src = &health.Source{Log: log, Name: "zpool/zfs"}
	}
	t.src.Report(err)
}

// limited keeps up to max bytes and notes an overflow.
type limited struct {
	buf  []byte
	max  int
	over bool
}

func (l *limited) Write(p []byte) (int, error) {
	if len(l.buf)+len(p) > l.max {
		l.buf = append(l.buf, p[:max(l.max-len(l.buf), 0)]...)
		l.over = true
		// An error ends the copy: the tool gets EPIPE/SIGPIPE instead of
		// printing on until the deadline.
		return 0, errors.New("output limit reached")
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// Package bundle holds what the collectors of a bundle plugin (one process
// serving several collectors, see sdk.Serve) share: a collector made of a
// description, accepted options and a collect function, with the root and
// options Configure gives it.
package bundle

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// Collector is what every collector of a bundle shares: its description,
// the root and options from Configure (guarded, since Act may run while
// the core reconfigures), the options it accepts and its collect and act
// functions. One type keeps many small collectors from each repeating the
// same Describe/Configure code.
type Collector struct {
	Info sdk.Info
	// Options are the accepted options and their defaults; any other
	// option is refused by Configure.
	Options map[string]string
	// CollectFunc makes the payload; ActFunc, if set, runs the actions
	// Info declares (the SDK refuses undeclared ones before it).
	CollectFunc func(ctx context.Context, c *Collector) (any, error)
	ActFunc     func(ctx context.Context, c *Collector, a sdk.Action) (string, error)

	mu   sync.Mutex
	root string
	opts map[string]string
}

func New(info sdk.Info, options map[string]string) *Collector {
	info.Version = sdk.Version
	return &Collector{Info: info, Options: options, root: "/"}
}

func (c *Collector) Describe() sdk.Info { return c.Info }

func (c *Collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check(c.Info.Name, cfg.Options, slices.Collect(maps.Keys(c.Options))...); err != nil {
		return err
	}
	opts := map[string]string{}
	maps.Copy(opts, c.Options)
	maps.Copy(opts, cfg.Options)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg.Root != "" {
		c.root = cfg.Root
	}
	c.opts = opts
	return nil
}

// Root is the host root the collector reads under.
func (c *Collector) Root() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.root
}

// Path is rel (slash-separated, relative) under the root.
func (c *Collector) Path(rel string) string { return unraid.Join(c.Root(), rel) }

// Opt is the option's value, or its default before Configure.
func (c *Collector) Opt(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.opts[name]; ok {
		return v
	}
	return c.Options[name]
}

// OptDuration is a duration option; a bad value gives def.
func (c *Collector) OptDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(c.Opt(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func (c *Collector) Collect(ctx context.Context) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.CollectFunc(ctx, c)
}

func (c *Collector) Act(ctx context.Context, a sdk.Action) (string, error) {
	if c.ActFunc == nil {
		return "", fmt.Errorf("%s has no actions: %w", c.Info.Name, sdk.ErrUnsupported)
	}
	return c.ActFunc(ctx, c, a)
}

// ReadSmall reads a file of at most max bytes; a larger one is an error,
// not a truncation (the sources here are small). It reads to the end
// rather than trusting the size, which /proc files report as 0.
func ReadSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than the %d bytes this source may have", path, max)
	}
	return b, nil
}

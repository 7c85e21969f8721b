package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/towerd/towerd/plugins/internal/health"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/plugins/internal/units"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

const (
	// defaultHost is used when neither the "host" option nor DOCKER_HOST is set.
	defaultHost = "unix:///var/run/docker.sock"
	// defaultConcurrency bounds the per-container stats/inspect calls in flight.
	// dockerd samples all containers once a second and answers every pending
	// one-shot stats request at that tick, so a wide bound keeps a collect
	// near 1 s however many containers there are.
	defaultConcurrency = 32
	// defaultStatsBudget bounds the stats phase of one Collect.
	defaultStatsBudget = 5 * time.Second
)

// collector talks to the Docker Engine API through the official client.
// It keeps one client (no background goroutines) and, per running
// container, the previous CPU sample so cpu_percent is a delta between
// two ticks without asking the daemon for a 1 s double sample.
type collector struct {
	log hclog.Logger

	mu          sync.Mutex // guards everything below; Act and Collect may overlap
	host        string
	root        string // host root for the Unraid autostart list
	concurrency int
	statsBudget time.Duration
	cli         *client.Client
	daemon      health.Source // the daemon's state, logged on change
	prev        map[string]cpuSample
}

func newCollector() *collector {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = defaultHost
	}
	return &collector{
		log:         sdk.Logger("docker"),
		host:        host,
		concurrency: defaultConcurrency,
		statsBudget: defaultStatsBudget,
		prev:        map[string]cpuSample{},
	}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "docker",
		Version:         sdk.Version,
		Topic:           schema.TopicContainers,
		Description:     "Docker containers: state, CPU, memory, network, ports; start/stop/restart/pause/unpause",
		DefaultInterval: 10 * time.Second,
		Actions:         actionNames(),
	}
}

// Configure takes the options "host" (a Docker host URL, overriding
// DOCKER_HOST) and "stats_concurrency" (1–64, default 32).
func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check("docker", cfg.Options, "host", "stats_concurrency"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.root = cfg.Root
	if h := strings.TrimSpace(cfg.Options["host"]); h != "" && h != c.host {
		if _, err := client.ParseHostURL(h); err != nil {
			return fmt.Errorf("%w: option host %q: %v", sdk.ErrInvalidArgument, h, err)
		}
		c.host = h
		c.resetLocked()
	}
	if s := cfg.Options["stats_concurrency"]; s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 || n > 64 {
			return fmt.Errorf("%w: option stats_concurrency %q: want 1-64", sdk.ErrInvalidArgument, s)
		}
		c.concurrency = n
	}
	return nil
}

// clientLocked returns the client, creating it if needed.
func (c *collector) clientLocked() (*client.Client, error) {
	if c.cli != nil {
		return c.cli, nil
	}
	cli, err := client.New(client.FromEnv, client.WithHost(c.host))
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", c.host, err)
	}
	c.cli = cli
	return cli, nil
}

// resetLocked drops the client so the next call negotiates the API version
// again (the daemon may have been replaced by another version).
func (c *collector) resetLocked() {
	if c.cli != nil {
		_ = c.cli.Close()
		c.cli = nil
	}
}

// report logs an outage of the daemon and its recovery, once each.
func (c *collector) report(err error) {
	c.daemon.Log, c.daemon.Name = c.log, "docker at "+c.host
	c.daemon.Report(err)
}

// Collect lists all containers, then fetches one non-streaming stats sample
// and the inspect data of each with bounded concurrency. A container that
// disappears meanwhile is left out; a daemon that cannot be reached gives an
// empty list.
func (c *collector) Collect(ctx context.Context) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []schema.Container{}
	cli, err := c.clientLocked()
	if err != nil {
		c.report(err)
		return out, nil
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		c.report(err)
		c.resetLocked()
		return out, nil
	}
	c.report(nil)

	details := c.fetchDetails(ctx, cli, list.Items)
	now := time.Now()
	seen := make(map[string]bool, len(list.Items))
	for i, s := range list.Items {
		d := details[i]
		if d.gone {
			continue
		}
		item := baseContainer(s, now)
		item.RestartCount = d.restartCount
		item.Autostart = d.autostart
		if d.stats != nil {
			applyStats(&item, d.stats)
			cur := cpuSampleOf(d.stats)
			if p, ok := c.prev[s.ID]; ok {
				item.CPUPercent = cpuPercent(p, cur)
				item.NetworkRxBytesPerSec, item.NetworkTxBytesPerSec = netRates(p, cur)
			}
			c.prev[s.ID] = cur
			seen[s.ID] = true
		}
		item.MemoryDisplay = units.Usage(item.MemoryUsageBytes, item.MemoryLimitBytes)
		out = append(out, item)
	}
	for id := range c.prev {
		if !seen[id] {
			delete(c.prev, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// baseContainer fills the fields that come from the list call.
func baseContainer(s container.Summary, now time.Time) schema.Container {
	name := ""
	if len(s.Names) > 0 {
		name = strings.TrimPrefix(s.Names[0], "/")
	}
	return schema.Container{
		ID:        shortID(s.ID),
		Name:      name,
		Image:     s.Image,
		State:     string(s.State),
		Status:    s.Status,
		Ports:     convertPorts(s.Ports),
		Timestamp: now,
	}
}

// shortID is the 12-hex-digit form docker ps shows and the REST API accepts.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// convertPorts maps Docker's port list to {container_port, host_port,
// protocol}, merging the duplicate IPv4/IPv6 bindings Docker reports, in a
// stable order. Never nil.
func convertPorts(in []container.PortSummary) []schema.Port {
	out := []schema.Port{}
	seen := map[schema.Port]bool{}
	for _, p := range in {
		proto := p.Type
		if proto == "" {
			proto = "tcp"
		}
		sp := schema.NewPort(int(p.PrivatePort), int(p.PublicPort), proto)
		if seen[sp] {
			continue
		}
		seen[sp] = true
		out = append(out, sp)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		return a.HostPort < b.HostPort
	})
	return out
}

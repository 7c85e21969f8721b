package main

import (
	"context"
	"fmt"
	"net"
	"path"
	"strings"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/towerd/towerd/plugins/internal/hostfs"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// defaultExclude hides loopback and the host ends of container veth pairs,
// which come and go with every container.
const defaultExclude = "lo,veth*"

type collector struct {
	exclude []string // glob patterns of interface names to leave out
}

func newCollector() *collector {
	return &collector{exclude: splitList(defaultExclude)}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "network",
		Version:         sdk.Version,
		Topic:           schema.TopicNetwork,
		Description:     "network interfaces: addresses, link state, speed, counters",
		DefaultInterval: 15 * time.Second,
	}
}

// Configure takes option "exclude": comma-separated name globs
// (default "lo,veth*"; "" lists every interface).
func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check("network", cfg.Options, "exclude"); err != nil {
		return err
	}
	ex, ok := cfg.Options["exclude"]
	if !ok {
		ex = defaultExclude
	}
	patterns := splitList(ex)
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("option exclude: bad pattern %q: %w", p, sdk.ErrInvalidArgument)
		}
	}
	c.exclude = patterns
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *collector) excluded(name string) bool {
	for _, p := range c.exclude {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (c *collector) Collect(ctx context.Context) (any, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	counters, err := psnet.IOCountersWithContext(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("interface counters: %w", err)
	}
	byName := make(map[string]psnet.IOCountersStat, len(counters))
	for _, c := range counters {
		byName[c.Name] = c
	}
	now := time.Now()
	out := make([]schema.NetworkInterface, 0, len(ifaces))
	for _, ifc := range ifaces {
		if c.excluded(ifc.Name) {
			continue
		}
		item := schema.NetworkInterface{
			Name:       ifc.Name,
			MACAddress: ifc.HardwareAddr.String(),
			IPAddress:  firstIPv4(ifc),
			SpeedMbps:  speed(ifc.Name),
			State:      state(ifc),
			Timestamp:  now,
		}
		if ct, ok := byName[ifc.Name]; ok {
			item.BytesReceived, item.BytesSent = ct.BytesRecv, ct.BytesSent
			item.PacketsReceived, item.PacketsSent = ct.PacketsRecv, ct.PacketsSent
			item.ErrorsReceived, item.ErrorsSent = ct.Errin, ct.Errout
		}
		out = append(out, item)
	}
	return out, nil
}

func firstIPv4(ifc net.Interface) string {
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// speed is the negotiated link speed; the kernel reports -1 (or refuses to
// read) for links that are down or virtual, shown as 0.
func speed(name string) int {
	mbps, ok := hostfs.Int(hostfs.Sys("class/net", name, "speed"))
	if !ok || mbps < 0 {
		return 0
	}
	return int(mbps)
}

// state is "up" or "down" from operstate; virtual interfaces report
// "unknown" there, so the administrative flag decides for them.
func state(ifc net.Interface) string {
	switch hostfs.String(hostfs.Sys("class/net", ifc.Name, "operstate")) {
	case "up":
		return "up"
	case "down", "lowerlayerdown", "notpresent":
		return "down"
	}
	if ifc.Flags&net.FlagUp != 0 {
		return "up"
	}
	return "down"
}

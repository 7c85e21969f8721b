package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"libvirt.org/go/libvirt"

	"github.com/towerd/towerd/plugins/internal/health"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/plugins/internal/units"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// defaultURI is the libvirt connection used unless the "uri" option says
// otherwise (Unraid runs QEMU/KVM under the system libvirtd).
const defaultURI = "qemu:///system"

// collector keeps one libvirt connection open between ticks and reopens it
// when it breaks. libvirt calls take no context: a hung daemon makes
// Collect overrun and the core kills and restarts the plugin.
type collector struct {
	log hclog.Logger

	mu       sync.Mutex
	uri      string
	conn     *libvirt.Connect
	hostCPUs uint
	daemon   health.Source        // the daemon's state, logged on change
	prev     map[string]cpuSample // by UUID, for the CPU percentages
}

type cpuSample struct {
	cpuTime uint64 // ns, all vCPUs
	at      time.Time
}

func newCollector() *collector {
	return &collector{log: sdk.Logger("vm"), uri: defaultURI, prev: map[string]cpuSample{}}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "vm",
		Version:         sdk.Version,
		Topic:           schema.TopicVMs,
		Description:     "libvirt virtual machines: state, vCPUs, memory, first disk; start/stop/force-stop/restart/pause/resume/hibernate/reset",
		DefaultInterval: 10 * time.Second,
		Actions:         actionNames(),
	}
}

// Configure takes the option "uri" (a libvirt connection URI).
func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check("vm", cfg.Options, "uri"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	uri := strings.TrimSpace(cfg.Options["uri"])
	if uri == "" {
		uri = defaultURI
	}
	if strings.ContainsAny(uri, " \n\r\t") || !strings.Contains(uri, ":") {
		return fmt.Errorf("%w: option uri %q is not a libvirt URI", sdk.ErrInvalidArgument, uri)
	}
	if uri != c.uri {
		c.closeLocked()
		c.uri = uri
	}
	return nil
}

// connLocked returns an open connection, opening one if needed.
func (c *collector) connLocked() (*libvirt.Connect, error) {
	if c.conn != nil {
		if alive, err := c.conn.IsAlive(); err == nil && alive {
			return c.conn, nil
		}
		c.closeLocked()
	}
	if err := libraryAvailable(); err != nil {
		return nil, err
	}
	conn, err := libvirt.NewConnect(c.uri)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", c.uri, err)
	}
	c.conn = conn
	c.hostCPUs = 0
	if ni, err := conn.GetNodeInfo(); err == nil {
		c.hostCPUs = ni.Cpus
	}
	return conn, nil
}

func (c *collector) closeLocked() {
	if c.conn != nil {
		_, _ = c.conn.Close()
		c.conn = nil
	}
}

// report logs an outage of the daemon and its recovery, once each.
func (c *collector) report(err error) {
	c.daemon.Log, c.daemon.Name = c.log, "libvirt at "+c.uri
	c.daemon.Report(err)
}

// Collect lists every domain, running or not. No library, no daemon or a
// broken connection give an empty list (logged once per outage).
func (c *collector) Collect(ctx context.Context) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []schema.VM{}
	conn, err := c.connLocked()
	if err != nil {
		c.report(err)
		return out, nil
	}
	doms, err := conn.ListAllDomains(0)
	if err != nil {
		c.report(fmt.Errorf("list domains: %w", err))
		c.closeLocked()
		return out, nil
	}
	c.report(nil)
	now := time.Now()
	seen := map[string]bool{}
	for i := range doms {
		d := &doms[i]
		if ctx.Err() == nil {
			if vm, ok := c.describe(d, now); ok {
				out = append(out, vm)
				seen[vm.ID] = true
			}
		}
		_ = d.Free()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("collect VMs: %w", err)
	}
	for id := range c.prev {
		if !seen[id] {
			delete(c.prev, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// describe reads one domain. A domain undefined meanwhile is skipped.
func (c *collector) describe(d *libvirt.Domain, now time.Time) (schema.VM, bool) {
	uuid, err := d.GetUUIDString()
	if err != nil {
		return schema.VM{}, false
	}
	name, err := d.GetName()
	if err != nil {
		return schema.VM{}, false
	}
	info, err := d.GetInfo()
	if err != nil {
		c.log.Debug("domain info", "domain", name, "error", err)
		return schema.VM{}, false
	}
	vm := schema.VM{
		ID:                   uuid,
		Name:                 name,
		State:                stateName(info.State),
		VCPUs:                int(info.NrVirtCpu),
		CPUCount:             int(info.NrVirtCpu),
		MemoryAllocatedBytes: info.MaxMem * 1024,
		Timestamp:            now,
	}
	active := info.State == libvirt.DOMAIN_RUNNING || info.State == libvirt.DOMAIN_BLOCKED ||
		info.State == libvirt.DOMAIN_PAUSED || info.State == libvirt.DOMAIN_PMSUSPENDED
	if active {
		vm.MemoryUsedBytes = memoryUsed(d, info)
		cur := cpuSample{cpuTime: info.CpuTime, at: now}
		if p, ok := c.prev[uuid]; ok {
			vm.GuestCPUPercent, vm.HostCPUPercent = cpuPercents(p, cur, info.NrVirtCpu, c.hostCPUs)
		}
		c.prev[uuid] = cur
	} else {
		delete(c.prev, uuid)
	}
	vm.MemoryDisplay = units.Usage(vm.MemoryUsedBytes, vm.MemoryAllocatedBytes)
	vm.Autostart, _ = d.GetAutostart()
	vm.Persistent, _ = d.IsPersistent()

	if x, err := d.GetXMLDesc(0); err == nil {
		if disk, ok := firstDisk([]byte(x)); ok {
			vm.DiskPath = disk.Path
			vm.DiskSizeBytes = diskSize(d, disk)
			if active {
				if bs, err := d.BlockStats(disk.Target); err == nil {
					if bs.RdBytesSet && bs.RdBytes > 0 {
						vm.DiskReadBytes = uint64(bs.RdBytes)
					}
					if bs.WrBytesSet && bs.WrBytes > 0 {
						vm.DiskWriteBytes = uint64(bs.WrBytes)
					}
				}
			}
		}
	}
	return vm, true
}

// memoryUsed is what the guest uses when the balloon driver reports it
// (available - unused), else the current allocation.
func memoryUsed(d *libvirt.Domain, info *libvirt.DomainInfo) uint64 {
	var avail, unused uint64
	var haveAvail, haveUnused bool
	if stats, err := d.MemoryStats(uint32(libvirt.DOMAIN_MEMORY_STAT_NR), 0); err == nil {
		for _, s := range stats {
			switch s.Tag {
			case int32(libvirt.DOMAIN_MEMORY_STAT_AVAILABLE):
				avail, haveAvail = s.Val, true
			case int32(libvirt.DOMAIN_MEMORY_STAT_UNUSED):
				unused, haveUnused = s.Val, true
			}
		}
	}
	if haveAvail && haveUnused && unused <= avail {
		return (avail - unused) * 1024
	}
	return info.Memory * 1024
}

// diskSize is the virtual size libvirt reports, or the file size when the
// domain's driver cannot tell (the file is on this host for local URIs).
func diskSize(d *libvirt.Domain, disk diskInfo) uint64 {
	if bi, err := d.GetBlockInfo(disk.Target, 0); err == nil && bi.Capacity > 0 {
		return bi.Capacity
	}
	if fi, err := os.Stat(disk.Path); err == nil && fi.Mode().IsRegular() {
		return uint64(fi.Size())
	}
	return 0
}

// cpuPercents turns two CPU-time samples into the share of the VM's own
// vCPUs (guest) and of the host's CPUs (host), each 0-100.
func cpuPercents(prev, cur cpuSample, vcpus, hostCPUs uint) (guest, host float64) {
	wall := cur.at.Sub(prev.at)
	if wall <= 0 || cur.cpuTime < prev.cpuTime {
		return 0, 0
	}
	used := float64(cur.cpuTime - prev.cpuTime)
	if vcpus > 0 {
		guest = min(100, used/(float64(wall)*float64(vcpus))*100)
	}
	if hostCPUs > 0 {
		host = min(100, used/(float64(wall)*float64(hostCPUs))*100)
	}
	return guest, host
}

// stateName spells a domain state the way virsh does.
func stateName(s libvirt.DomainState) string {
	switch s {
	case libvirt.DOMAIN_RUNNING:
		return "running"
	case libvirt.DOMAIN_BLOCKED:
		return "idle"
	case libvirt.DOMAIN_PAUSED:
		return "paused"
	case libvirt.DOMAIN_SHUTDOWN:
		return "in shutdown"
	case libvirt.DOMAIN_SHUTOFF:
		return "shut off"
	case libvirt.DOMAIN_CRASHED:
		return "crashed"
	case libvirt.DOMAIN_PMSUSPENDED:
		return "pmsuspended"
	default:
		return "no state"
	}
}

// libvirtCode extracts the libvirt error number, if err is a libvirt error.
func libvirtCode(err error) (libvirt.ErrorNumber, bool) {
	var le libvirt.Error
	if errors.As(err, &le) {
		return le.Code, true
	}
	var lp *libvirt.Error
	if errors.As(err, &lp) && lp != nil {
		return lp.Code, true
	}
	return 0, false
}

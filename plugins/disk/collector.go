package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/plugins/internal/health"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

const (
	defaultSmartInterval = 5 * time.Minute
	smartTimeout         = 10 * time.Second
	// smartBudget is the time a collect keeps for itself after the last
	// smartctl it starts; later disks wait for the next collect.
	smartBudget = 2 * time.Second
	// Temperatures outside this range are sensor faults (a stuck 127.5 °C,
	// a negative reading) and are dropped.
	minPlausibleTemp, maxPlausibleTemp = 1.0, 99.0
)

type smartEntry struct {
	info    smartInfo
	have    bool      // info holds a successful reading
	checked time.Time // last time smartctl ran for this device
}

type ioSample struct {
	stat ioStat
	at   time.Time
}

type collector struct {
	log           hclog.Logger
	root          string
	smartctl      string // option smartctl_path; "" = <root>/usr/sbin/smartctl, else PATH
	smartInterval time.Duration
	smartOff      bool
	now           func() time.Time

	disksSrc, varSrc, statsSrc, smartSrc, dynSrc health.Source

	smart map[string]*smartEntry // by device
	prev  map[string]ioSample    // by device
}

func newCollector() *collector {
	log := sdk.Logger("disk")
	return &collector{
		log:           log,
		root:          "/",
		smartInterval: defaultSmartInterval,
		now:           time.Now,
		disksSrc:      health.Source{Log: log, Name: unraid.DisksIni},
		varSrc:        health.Source{Log: log, Name: unraid.VarIni},
		statsSrc:      health.Source{Log: log, Name: unraid.DiskStats},
		smartSrc:      health.Source{Log: log, Name: "smartctl"},
		dynSrc:        health.Source{Log: log, Name: unraid.DynamixCfg},
		smart:         map[string]*smartEntry{},
		prev:          map[string]ioSample{},
	}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "disk",
		Version:         sdk.Version,
		Topic:           schema.TopicDisks,
		Description:     "Unraid disks from disks.ini, statfs, /proc/diskstats and smartctl; spin up/down through emhttpd",
		DefaultInterval: 30 * time.Second,
		Actions:         []string{ActSpinUp, ActSpinDown},
		WatchPaths:      []string{unraid.DisksIni, unraid.VarIni},
	}
}

// Configure takes the root and the options smartctl_path (a file name),
// smart_interval (a Go duration or seconds, at least 1m) and smart
// ("false" disables SMART).
func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	if err := options.Check("disk", cfg.Options, "smartctl_path", "smart_interval", "smart"); err != nil {
		return err
	}
	if cfg.Root != "" {
		c.root = cfg.Root
	}
	for k, v := range cfg.Options {
		switch k {
		case "smartctl_path":
			c.smartctl = v
		case "smart_interval":
			d, err := time.ParseDuration(v)
			if err != nil {
				n, nerr := strconv.Atoi(v)
				if nerr != nil {
					return fmt.Errorf("smart_interval %q: want a duration like 5m: %w", v, sdk.ErrInvalidArgument)
				}
				d = time.Duration(n) * time.Second
			}
			if d < time.Second {
				return fmt.Errorf("smart_interval %q: must be positive: %w", v, sdk.ErrInvalidArgument)
			}
			c.smartInterval = d
		case "smart":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("smart %q: want true or false: %w", v, sdk.ErrInvalidArgument)
			}
			c.smartOff = !b
		}
	}
	return nil
}

// smartctlPath resolves the smartctl to run: the option, else the one under
// the root (/usr/sbin/smartctl on Unraid; the fixture tree ships a stand-in
// there), else smartctl on PATH.
func (c *collector) smartctlPath() (string, error) {
	if c.smartctl != "" {
		return c.smartctl, nil
	}
	p := unraid.Join(c.root, "usr/sbin/smartctl")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p, nil
	}
	return exec.LookPath("smartctl")
}

func (c *collector) Collect(ctx context.Context) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := c.now()
	slots, err := unraid.ReadDisks(c.root)
	c.disksSrc.Report(err)
	disks := []schema.Disk{}
	if err != nil {
		return disks, nil
	}
	v, verr := unraid.ReadVar(c.root)
	c.varSrc.Report(verr)
	limits, lerr := unraid.ReadTempLimits(c.root)
	c.dynSrc.Report(lerr)

	data, serr := os.ReadFile(unraid.Join(c.root, unraid.DiskStats))
	c.statsSrc.Report(serr)
	stats := parseDiskstats(data)

	seen := map[string]bool{}
	for _, s := range slots {
		if s.Empty() {
			continue
		}
		d := c.disk(ctx, now, s, v, limits, stats)
		if s.Device != "" {
			seen[s.Device] = true
		}
		disks = append(disks, d)
	}
	disks = append(disks, c.pseudo(now)...)
	for dev := range c.prev {
		if !seen[dev] {
			delete(c.prev, dev)
		}
	}
	for dev := range c.smart {
		if !seen[dev] {
			delete(c.smart, dev)
		}
	}
	return disks, nil
}

func (c *collector) disk(ctx context.Context, now time.Time, s unraid.Slot, v unraid.Var, lim unraid.TempLimits, stats map[string]ioStat) schema.Disk {
	d := schema.Disk{
		ID:          s.Name,
		Device:      s.Device,
		Name:        s.Name,
		Role:        role(s),
		Status:      s.Status,
		SizeBytes:   s.SizeKiB * unraid.KiB,
		SpinState:   spinState(s),
		SMARTStatus: "UNKNOWN",
		Filesystem:  s.FsType,
		MountPoint:  mountPoint(s),
		Timestamp:   now,
	}
	d.Model, d.SerialNumber = splitID(s.ID)

	// Capacity: emhttpd's fsSize/fsFree/fsUsed (KiB) when present, else
	// statfs on the mount point under the root.
	switch {
	case s.HasFsSizes:
		d.UsedBytes = s.FsUsedKiB * unraid.KiB
		d.FreeBytes = s.FsFreeKiB * unraid.KiB
	case d.MountPoint != "" && unraid.SafeName(s.Name):
		if u, err := unraid.Statfs(unraid.Join(c.root, d.MountPoint)); err == nil {
			d.UsedBytes, d.FreeBytes = u.Used, u.Free
		}
	}
	d.UsagePercent = unraid.Percent(d.UsedBytes, d.UsedBytes+d.FreeBytes)

	d.SpindownDelay = spindownDelay(s.SpindownDelay, v.SpindownDelay)
	d.TempWarningCelsius, d.TempCriticalCelsius = tempLimits(s, lim)

	if st, ok := stats[s.Device]; ok && s.Device != "" {
		d.ReadBytes = st.ReadSectors * 512
		d.WriteBytes = st.WriteSectors * 512
		d.ReadOps = st.ReadOps
		d.WriteOps = st.WriteOps
		if p, ok := c.prev[s.Device]; ok {
			d.IOUtilizationPercent = utilization(p, ioSample{st, now})
		}
		c.prev[s.Device] = ioSample{st, now}
	}

	sm := c.smartFor(ctx, now, s, d.SpinState)
	if sm.have {
		d.SMARTStatus = sm.info.Status
		d.SMARTErrors = sm.info.Errors
		d.PowerOnHours = sm.info.PowerOnHours
		d.PowerCycleCount = sm.info.PowerCycleCount
		if sm.info.Model != "" {
			d.Model = sm.info.Model
		}
		if sm.info.Serial != "" {
			d.SerialNumber = sm.info.Serial
		}
		if r := sm.info.RotationRate; r != nil {
			d.SMARTAttributes = map[string]schema.SMARTAttribute{
				"rotation_rate": {Name: "rotation_rate", RawValue: strconv.Itoa(*r)}}
		}
	}

	// Temperature: emhttpd's reading; "*" (spun down) and "" give 0, or
	// the last SMART reading for an active disk emhttpd has no value for.
	if t, err := strconv.ParseFloat(s.Temp, 64); err == nil {
		d.TemperatureCelsius = plausible(t)
	} else if s.Temp == "" && d.SpinState == "active" && sm.have {
		d.TemperatureCelsius = plausible(sm.info.Temperature)
	}
	return d
}

// smartFor returns the SMART entry of the slot's device, refreshing it when
// it is older than the SMART interval. A spun-down disk is never queried,
// and smartctl runs with -n standby so a disk that went to sleep since
// emhttpd looked is not woken either; both keep the last known values.
func (c *collector) smartFor(ctx context.Context, now time.Time, s unraid.Slot, spin string) smartEntry {
	if s.Device == "" || s.Type == "Flash" || c.smartOff {
		return smartEntry{}
	}
	e := c.smart[s.Device]
	if e == nil {
		e = &smartEntry{}
		c.smart[s.Device] = e
	}
	if spin == "standby" {
		return *e
	}
	if !e.checked.IsZero() && now.Sub(e.checked) < c.smartInterval {
		return *e
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < smartBudget {
		return *e // out of time this collect; try next time
	}
	path, err := c.smartctlPath()
	if err != nil {
		c.smartSrc.Report(fmt.Errorf("smartctl not found: %w", err))
		return *e
	}
	timeout := smartTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)-smartBudget/2)
	}
	info, err := runSmart(ctx, path, s.Device, timeout)
	e.checked = now
	switch {
	case errors.Is(err, errStandby):
		c.log.Debug("disk in standby, SMART skipped", "device", s.Device)
	case err != nil:
		c.smartSrc.Report(err)
	default:
		c.smartSrc.Report(nil)
		e.info, e.have = info, true
	}
	return *e
}

func role(s unraid.Slot) string {
	switch s.Type {
	case "Parity":
		if s.Name == "parity" || s.Name == "parity2" {
			return s.Name
		}
		return "parity"
	case "Data":
		return "data"
	case "Flash":
		return "flash"
	case "Cache":
		if strings.HasPrefix(s.Name, "cache") {
			return "cache"
		}
		return "pool"
	}
	return strings.ToLower(s.Type)
}

func spinState(s unraid.Slot) string {
	switch {
	case s.Device == "":
		return "unknown"
	case s.Spundown == "1":
		return "standby"
	case s.Temp == "*" && s.Rotational == "1":
		return "standby"
	}
	return "active"
}

func mountPoint(s unraid.Slot) string {
	switch {
	case s.Type == "Flash":
		return "/boot"
	case s.FsType == "" || s.FsStatus != "Mounted" || !unraid.SafeName(s.Name):
		return ""
	}
	return "/mnt/" + s.Name
}

// splitID splits emhttpd's id (model_serial, spaces as underscores) into
// model and serial number.
func splitID(id string) (model, serial string) {
	i := strings.LastIndexByte(id, '_')
	if i < 0 {
		return "", id
	}
	return strings.ReplaceAll(id[:i], "_", " "), id[i+1:]
}

func spindownDelay(slot string, def int64) int {
	n, err := strconv.Atoi(strings.TrimSpace(slot))
	if err != nil || n < 0 {
		return int(max(def, 0))
	}
	return n
}

func tempLimits(s unraid.Slot, lim unraid.TempLimits) (float64, float64) {
	w, c := lim.Warning, lim.Critical
	if s.Rotational == "0" {
		w, c = lim.SSDWarning, lim.SSDCritical
	}
	if v, err := strconv.ParseFloat(s.Warning, 64); err == nil && v > 0 {
		w = v
	}
	if v, err := strconv.ParseFloat(s.Critical, 64); err == nil && v > 0 {
		c = v
	}
	return w, c
}

func plausible(t float64) float64 {
	if t < minPlausibleTemp || t > maxPlausibleTemp {
		return 0
	}
	return t
}

// utilization is the share of wall time the device was busy between two
// samples: Δio_ticks (ms) / Δt (ms) × 100, within 0..100.
func utilization(a, b ioSample) float64 {
	dt := b.at.Sub(a.at).Milliseconds()
	if dt <= 0 || b.stat.IOTicksMs < a.stat.IOTicksMs {
		return 0
	}
	u := float64(b.stat.IOTicksMs-a.stat.IOTicksMs) / float64(dt) * 100
	return unraid.Round2(min(u, 100))
}

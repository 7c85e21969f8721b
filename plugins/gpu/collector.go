package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// config is the parsed option set.
type config struct {
	nvidiaSMI   string        // nvidia-smi name (looked up on PATH) or path
	intelTop    string        // intel_gpu_top name or path; "" disables it
	intelSample time.Duration // intel_gpu_top sample period
	execTimeout time.Duration // per tool run
}

func defaultConfig() config {
	return config{nvidiaSMI: "nvidia-smi", intelTop: "intel_gpu_top", intelSample: 500 * time.Millisecond, execTimeout: 5 * time.Second}
}

func parseOptions(opts map[string]string) (config, error) {
	c := defaultConfig()
	bad := func(format string, a ...any) (config, error) {
		return config{}, fmt.Errorf("%w: "+format, append([]any{sdk.ErrInvalidArgument}, a...)...)
	}
	if err := options.Check("gpu", opts, "nvidia_smi", "intel_gpu_top", "intel_sample_ms", "exec_timeout"); err != nil {
		return config{}, err
	}
	for k, v := range opts {
		switch k {
		case "nvidia_smi", "intel_gpu_top":
			if strings.ContainsAny(v, "\x00\n") || strings.HasPrefix(v, "-") {
				return bad("%s %q", k, v)
			}
			if k == "nvidia_smi" {
				if v != "" {
					c.nvidiaSMI = v
				}
			} else {
				c.intelTop = v // "" turns it off
			}
		case "intel_sample_ms":
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 50 || ms > 5000 {
				return bad("intel_sample_ms %q: want 50–5000", v)
			}
			c.intelSample = time.Duration(ms) * time.Millisecond
		case "exec_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > time.Minute {
				return bad("exec_timeout %q", v)
			}
			c.execTimeout = d
		}
	}
	return c, nil
}

type energyMark struct {
	uj int64
	at time.Time
}

// collector is the GPU collector. Collect is never called concurrently with
// itself; mu guards the configuration against a concurrent Configure.
type collector struct {
	log hclog.Logger

	mu   sync.Mutex
	cfg  config
	root string

	names  map[string]string     // "vendor:device" → name (pci.ids is read once per device)
	energy map[string]energyMark // energy counter path → last reading
	states map[string]string     // source → last logged state
}

func newCollector() *collector {
	return &collector{
		log: sdk.Logger("gpu"), cfg: defaultConfig(), root: "/",
		names: map[string]string{}, energy: map[string]energyMark{}, states: map[string]string{},
	}
}

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "gpu",
		Version:         sdk.Version,
		Topic:           schema.TopicGPU,
		Description:     "GPUs: NVIDIA (nvidia-smi), Intel (i915/xe sysfs, intel_gpu_top), AMD (amdgpu sysfs)",
		DefaultInterval: 10 * time.Second,
	}
}

func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	parsed, err := parseOptions(cfg.Options)
	if err != nil {
		return err
	}
	root := cfg.Root
	if root == "" {
		root = "/"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.root = parsed, root
	c.names, c.energy = map[string]string{}, map[string]energyMark{}
	return nil
}

// note logs a source's state when it changes, so a missing tool or GPU is
// logged once, and its recovery once.
func (c *collector) note(source, state string, warn bool, msg string, args ...any) {
	if c.states[source] == state {
		return
	}
	c.states[source] = state
	if warn {
		c.log.Warn(msg, args...)
	} else {
		c.log.Info(msg, args...)
	}
}

// watts turns an energy counter (µJ) into the mean power since the last
// tick; false on the first reading and when the counter wrapped.
func (c *collector) watts(path string, now time.Time) (float64, bool) {
	uj, ok := readInt(path)
	if !ok {
		return 0, false
	}
	prev, had := c.energy[path]
	c.energy[path] = energyMark{uj: uj, at: now}
	dt := now.Sub(prev.at).Seconds()
	if !had || uj < prev.uj || dt <= 0 {
		return 0, false
	}
	return float64(uj-prev.uj) / 1e6 / dt, true
}

func (c *collector) name(root string, card drmCard) string {
	key := card.vendor + ":" + card.device
	if n, ok := c.names[key]; ok {
		return n
	}
	n := pciName(root, card)
	c.names[key] = n
	return n
}

func (c *collector) Collect(ctx context.Context) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, root := c.cfg, c.root
	now := time.Now()

	var found []gpuCard
	drm, err := drmCards(root)
	if err != nil {
		c.note("sysfs", "error", false, "no DRM devices in sysfs", "error", err)
	} else {
		c.note("sysfs", "ok", false, "reading DRM devices from sysfs", "cards", len(drm))
	}
	kernel, _ := readTrim(filepath.Join(root, "proc", "sys", "kernel", "osrelease"))

	// NVIDIA: one nvidia-smi call for all cards.
	nvSlots := map[string]bool{}
	nvCards := 0
	for _, d := range drm {
		if d.vendor == "10de" {
			nvCards++
		}
	}
	if bin, err := exec.LookPath(cfg.nvidiaSMI); err == nil {
		nv, err := runNvidiaSMI(ctx, bin, cfg.execTimeout)
		if err != nil {
			c.note("nvidia", "error", true, "nvidia-smi failed; NVIDIA GPUs reported unavailable", "error", err)
		} else {
			c.note("nvidia", "ok", false, "nvidia-smi answers", "gpus", len(nv))
			for _, g := range nv {
				nvSlots[g.slot] = true
			}
			found = append(found, nv...)
		}
	} else if nvCards > 0 {
		c.note("nvidia", "missing", true, "NVIDIA GPU present but nvidia-smi not found; reported unavailable", "error", err)
	}

	intelCards := 0
	for _, d := range drm {
		if d.vendor == "8086" {
			intelCards++
		}
	}
	for _, d := range drm {
		switch d.vendor {
		case "10de":
			if !nvSlots[d.slot] {
				found = append(found, gpuCard{slot: d.slot, gpu: schema.GPU{
					Available: false, Vendor: "nvidia", Name: c.name(root, d), DriverVersion: d.driver}})
			}
		case "8086":
			g := c.intel(ctx, cfg, root, d, intelCards > 1, now)
			g.DriverVersion = kernel
			found = append(found, gpuCard{slot: d.slot, gpu: g})
		case "1002":
			g := c.amd(root, d)
			g.DriverVersion = kernel
			found = append(found, gpuCard{slot: d.slot, gpu: g})
		}
	}

	out := make([]schema.GPU, 0, len(found))
	if len(found) == 0 {
		c.note("gpus", "none", false, "no GPU found; sending an empty list")
		return out, nil
	}
	c.note("gpus", "some", false, "GPUs found", "count", len(found))
	sort.SliceStable(found, func(i, j int) bool { return found[i].slot < found[j].slot })
	cpuT, _ := cpuTemp(root)
	for i, f := range found {
		g := f.gpu
		g.Index = i
		g.CPUTemperatureCelsius = cpuT
		g.Timestamp = now
		out = append(out, g)
	}
	return out, nil
}

// intel reads an i915/xe GPU. With intel_gpu_top: its busiest engine and
// its GPU power (both over its sample period). Without: power from the
// card's hwmon (discrete cards) or the RAPL uncore domain (integrated),
// as energy between ticks; utilisation stays 0.
func (c *collector) intel(ctx context.Context, cfg config, root string, d drmCard, pick bool, now time.Time) schema.GPU {
	g := schema.GPU{Available: true, Vendor: "intel", Name: c.name(root, d)}
	if v, _, ok := hwmonValue(d.dir, "temp1_input"); ok {
		g.TemperatureCelsius = float64(v) / 1000
	}
	if _, p, ok := hwmonValue(d.dir, "energy1_input"); ok {
		g.PowerDrawWatts, _ = c.watts(p, now)
	} else if v, _, ok := hwmonValue(d.dir, "power1_input", "power1_average"); ok {
		g.PowerDrawWatts = float64(v) / 1e6
	} else if p := raplUncore(root); p != "" {
		g.PowerDrawWatts, _ = c.watts(p, now)
	}
	if cfg.intelTop == "" {
		return g
	}
	bin, err := exec.LookPath(cfg.intelTop)
	if err != nil {
		c.note("intel_gpu_top", "missing", false, "intel_gpu_top not found; Intel GPU utilisation reported as 0, power from sysfs", "error", err)
		return g
	}
	card := ""
	if pick {
		card = d.name
	}
	s, err := runIntelTop(ctx, bin, cfg.intelSample, card, cfg.intelSample+cfg.execTimeout)
	if err != nil {
		c.note("intel_gpu_top", "error", true, "intel_gpu_top failed; Intel GPU utilisation reported as 0, power from sysfs", "error", err)
		return g
	}
	c.note("intel_gpu_top", "ok", false, "intel_gpu_top answers")
	g.UtilizationGPUPercent = round3(s.busy())
	g.PowerDrawWatts = round3(s.Power.GPU)
	return g
}

// round3 keeps three decimals of a tool's six.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// amd reads an amdgpu GPU from sysfs.
func (c *collector) amd(root string, d drmCard) schema.GPU {
	g := schema.GPU{Available: true, Vendor: "amd", Name: c.name(root, d)}
	if v, ok := readInt(filepath.Join(d.dir, "gpu_busy_percent")); ok {
		g.UtilizationGPUPercent = float64(v)
	}
	if v, ok := readInt(filepath.Join(d.dir, "mem_busy_percent")); ok {
		g.UtilizationMemoryPercent = float64(v)
	}
	if v, ok := readInt(filepath.Join(d.dir, "mem_info_vram_total")); ok && v > 0 {
		g.MemoryTotalBytes = uint64(v)
	}
	if v, ok := readInt(filepath.Join(d.dir, "mem_info_vram_used")); ok && v > 0 {
		g.MemoryUsedBytes = uint64(v)
	}
	if v, _, ok := hwmonValue(d.dir, "temp1_input"); ok {
		g.TemperatureCelsius = float64(v) / 1000
	}
	if v, _, ok := hwmonValue(d.dir, "power1_average", "power1_input"); ok {
		g.PowerDrawWatts = float64(v) / 1e6
	}
	return g
}

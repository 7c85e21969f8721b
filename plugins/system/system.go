package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/sensors"

	"github.com/towerd/towerd/plugins/internal/hostfs"
	"github.com/towerd/towerd/plugins/internal/options"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

type collector struct {
	static   *staticInfo     // facts that do not change while running
	prev     []cpu.TimesStat // per-CPU times of the previous collect
	prevAll  cpu.TimesStat
	havePrev bool
	rapl     rapl
}

// staticInfo is read once: CPU model and counts, firmware, kernel.
type staticInfo struct {
	model          string
	cores, threads int
	mhz            float64
	serverModel    string
	biosVersion    string
	biosDate       string
	kernel         string
	hvm, iommu     bool
}

func newCollector() *collector { return &collector{} }

func (c *collector) Describe() sdk.Info {
	return sdk.Info{
		Name:            "system",
		Version:         sdk.Version,
		Topic:           schema.TopicSystem,
		Description:     "host, CPU, memory, temperatures and fans",
		DefaultInterval: 5 * time.Second,
	}
}

// Configure takes no options; it is here so that an option given to system
// in the settings file is refused, as for every built-in, not ignored.
func (c *collector) Configure(_ context.Context, cfg sdk.Config) error {
	return options.Check("system", cfg.Options)
}

func (c *collector) Collect(ctx context.Context) (any, error) {
	if c.static == nil {
		c.static = readStatic(ctx)
	}
	s := c.static
	out := schema.System{
		Version:         sdk.Version,
		AgentVersion:    sdk.Version,
		CPUModel:        s.model,
		CPUCores:        s.cores,
		CPUThreads:      s.threads,
		CPUMHz:          currentMHz(s.mhz),
		ServerModel:     s.serverModel,
		BIOSVersion:     s.biosVersion,
		BIOSDate:        s.biosDate,
		KernelVersion:   s.kernel,
		HVMEnabled:      s.hvm,
		IOMMUEnabled:    s.iommu,
		CPUPerCoreUsage: map[string]float64{},
		Fans:            readFans(),
		Timestamp:       time.Now(),
	}
	out.Hostname, _ = os.Hostname()
	if up, err := host.UptimeWithContext(ctx); err == nil {
		out.UptimeSeconds = int64(up)
	}
	if err := c.cpuUsage(ctx, &out); err != nil {
		return nil, err
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	out.RAMTotalBytes, out.RAMUsedBytes = vm.Total, vm.Used
	out.RAMFreeBytes = vm.Total - vm.Used
	out.RAMBuffersBytes, out.RAMCachedBytes = vm.Buffers, vm.Cached
	out.RAMUsagePercent = round2(vm.UsedPercent)
	if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
		out.SwapTotalBytes, out.SwapUsedBytes, out.SwapFreeBytes = sw.Total, sw.Used, sw.Free
		out.SwapUsagePercent = round2(sw.UsedPercent)
	}
	out.Temperatures, out.CPUTempCelsius, out.MotherboardTempCelsius = readTemperatures(ctx)
	out.Swappiness = swappiness()
	out.CPUPowerWatts, out.DRAMPowerWatts = c.rapl.read(time.Now())
	out.CPUPowerState = powerState(out.CPUMHz)
	return out, nil
}

// cpuUsage fills overall and per-core usage from the change in /proc/stat
// since the previous collect (since boot on the first one).
func (c *collector) cpuUsage(ctx context.Context, out *schema.System) error {
	per, err := cpu.TimesWithContext(ctx, true)
	if err != nil {
		return fmt.Errorf("cpu times: %w", err)
	}
	var all cpu.TimesStat
	for _, t := range per {
		all = addTimes(all, t)
	}
	if c.havePrev {
		out.CPUUsagePercent = busyPercent(c.prevAll, all)
	} else {
		out.CPUUsagePercent = busyPercent(cpu.TimesStat{}, all)
	}
	for i, t := range per {
		var prev cpu.TimesStat
		if c.havePrev && i < len(c.prev) && c.prev[i].CPU == t.CPU {
			prev = c.prev[i]
		}
		out.CPUPerCoreUsage[t.CPU] = busyPercent(prev, t)
	}
	c.prev, c.prevAll, c.havePrev = per, all, true
	return nil
}

func addTimes(a, b cpu.TimesStat) cpu.TimesStat {
	a.User += b.User
	a.System += b.System
	a.Idle += b.Idle
	a.Nice += b.Nice
	a.Iowait += b.Iowait
	a.Irq += b.Irq
	a.Softirq += b.Softirq
	a.Steal += b.Steal
	return a
}

func busyPercent(prev, cur cpu.TimesStat) float64 {
	idle := (cur.Idle + cur.Iowait) - (prev.Idle + prev.Iowait)
	total := (cur.User + cur.System + cur.Nice + cur.Irq + cur.Softirq + cur.Steal + cur.Idle + cur.Iowait) -
		(prev.User + prev.System + prev.Nice + prev.Irq + prev.Softirq + prev.Steal + prev.Idle + prev.Iowait)
	if total <= 0 {
		return 0
	}
	return round2(min(max((total-idle)/total*100, 0), 100))
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func readStatic(ctx context.Context) *staticInfo {
	s := &staticInfo{
		serverModel: hostfs.String(hostfs.Sys("class/dmi/id/product_name")),
		biosVersion: hostfs.String(hostfs.Sys("class/dmi/id/bios_version")),
		biosDate:    hostfs.String(hostfs.Sys("class/dmi/id/bios_date")),
	}
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		s.model, s.mhz = infos[0].ModelName, infos[0].Mhz
		for _, f := range infos[0].Flags {
			s.hvm = s.hvm || f == "vmx" || f == "svm"
		}
	}
	s.cores, _ = cpu.CountsWithContext(ctx, false)
	s.threads, _ = cpu.CountsWithContext(ctx, true)
	s.kernel, _ = host.KernelVersionWithContext(ctx)
	if groups, err := os.ReadDir(hostfs.Sys("kernel/iommu_groups")); err == nil && len(groups) > 0 {
		s.iommu = true
	}
	return s
}

// currentMHz averages the CPUs' current frequency from cpufreq, falling
// back to the value read at start where cpufreq is absent (VMs).
func currentMHz(fallback float64) float64 {
	paths, _ := filepath.Glob(hostfs.Sys("devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"))
	var sum float64
	var n int
	for _, p := range paths {
		if khz, ok := hostfs.Int(p); ok {
			sum += float64(khz) / 1000
			n++
		}
	}
	if n == 0 {
		return fallback
	}
	return round2(sum / float64(n))
}

// readFans reads fanN_input (RPM) and fanN_label from every hwmon device.
func readFans() []schema.Fan {
	fans := []schema.Fan{}
	inputs, _ := filepath.Glob(hostfs.Sys("class/hwmon/hwmon*/fan*_input"))
	sort.Strings(inputs)
	for _, in := range inputs {
		rpm, ok := hostfs.Int(in)
		if !ok {
			continue
		}
		base := strings.TrimSuffix(in, "_input")
		name := hostfs.String(base + "_label")
		if name == "" {
			chip := hostfs.String(filepath.Join(filepath.Dir(in), "name"))
			name = strings.TrimSpace(chip + " " + filepath.Base(base))
		}
		fans = append(fans, schema.Fan{Name: name, RPM: int(rpm)})
	}
	return fans
}

// Temperatures outside this range are sensor faults (a stuck 127.5 °C,
// an unconnected input reading -128) and are dropped.
const minPlausible, maxPlausible = -40.0, 125.0

// cpuChips and boardChips name the hwmon drivers whose readings are the
// CPU package and the motherboard.
var (
	cpuChips   = []string{"coretemp", "k10temp", "zenpower", "cpu_thermal", "x86_pkg_temp"}
	boardChips = []string{"acpitz", "nct", "it87", "w83", "f71", "asus", "gigabyte", "dell_smm", "pch"}
)

func classify(key string) string {
	for _, p := range cpuChips {
		if strings.HasPrefix(key, p) {
			return "cpu"
		}
	}
	for _, p := range boardChips {
		if strings.HasPrefix(key, p) {
			return "motherboard"
		}
	}
	return "other"
}

func readTemperatures(ctx context.Context) (list []schema.Temperature, cpuTemp, boardTemp float64) {
	list = []schema.Temperature{}
	stats, _ := sensors.TemperaturesWithContext(ctx)
	sort.Slice(stats, func(i, j int) bool { return stats[i].SensorKey < stats[j].SensorKey })
	for _, st := range stats {
		if st.Temperature < minPlausible || st.Temperature > maxPlausible || st.Temperature == 0 {
			continue
		}
		kind := classify(st.SensorKey)
		list = append(list, schema.Temperature{Name: st.SensorKey, ValueCelsius: st.Temperature, SensorType: kind, Source: "hwmon"})
		switch {
		case kind == "cpu" && (cpuTemp == 0 || isPackage(st.SensorKey)):
			cpuTemp = st.Temperature
		case kind == "motherboard" && boardTemp == 0:
			boardTemp = st.Temperature
		}
	}
	return list, cpuTemp, boardTemp
}

func isPackage(key string) bool {
	return strings.Contains(key, "package") || strings.HasSuffix(key, "tctl") || strings.HasSuffix(key, "tdie")
}

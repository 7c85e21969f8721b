package main

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"

	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

// The plugin process, run as the core runs it, reports this machine's real
// CPU, memory and host values, and sensors and firmware from the sysfs
// fixture.
func TestSystemPluginReportsHostAndSensors(t *testing.T) {
	sys, err := filepath.Abs("testdata/sys")
	if err != nil {
		t.Fatal(err)
	}
	p := plugintest.Start(t, plugintest.Build(t, "."), "HOST_SYS="+sys)
	var first, s schema.System
	p.CollectJSON(t, &first)
	p.CollectJSON(t, &s)

	host, _ := os.Hostname()
	if s.Hostname != host {
		t.Errorf("hostname %q, want %q", s.Hostname, host)
	}
	if s.CPUThreads != runtime.NumCPU() || s.CPUCores < 1 || s.CPUCores > s.CPUThreads || s.CPUModel == "" {
		t.Errorf("cpu: model %q cores %d threads %d (NumCPU %d)", s.CPUModel, s.CPUCores, s.CPUThreads, runtime.NumCPU())
	}
	if len(s.CPUPerCoreUsage) != runtime.NumCPU() {
		t.Errorf("cpu_per_core_usage has %d entries: %v", len(s.CPUPerCoreUsage), s.CPUPerCoreUsage)
	}
	for i := 0; i < runtime.NumCPU(); i++ {
		v, ok := s.CPUPerCoreUsage["cpu"+strconv.Itoa(i)]
		if !ok || v < 0 || v > 100 {
			t.Errorf("cpu%d usage %v (present %v)", i, v, ok)
		}
	}
	if s.CPUUsagePercent < 0 || s.CPUUsagePercent > 100 {
		t.Errorf("cpu_usage_percent %v", s.CPUUsagePercent)
	}
	if memTotal := meminfoKiB(t, "MemTotal") * 1024; s.RAMTotalBytes != memTotal {
		t.Errorf("ram_total_bytes %d, /proc/meminfo says %d", s.RAMTotalBytes, memTotal)
	}
	if s.RAMUsedBytes+s.RAMFreeBytes != s.RAMTotalBytes || s.RAMUsagePercent <= 0 || s.RAMUsagePercent > 100 {
		t.Errorf("ram used %d + free %d != total %d, or usage %v", s.RAMUsedBytes, s.RAMFreeBytes, s.RAMTotalBytes, s.RAMUsagePercent)
	}
	if s.UptimeSeconds < first.UptimeSeconds || s.UptimeSeconds == 0 {
		t.Errorf("uptime %d after %d", s.UptimeSeconds, first.UptimeSeconds)
	}
	var uname strings.Builder
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		uname.Write(b)
	}
	if s.KernelVersion != strings.TrimSpace(uname.String()) {
		t.Errorf("kernel_version %q, want %q", s.KernelVersion, strings.TrimSpace(uname.String()))
	}

	// From the fixture.
	if s.CPUTempCelsius != 45 || s.MotherboardTempCelsius != 35 {
		t.Errorf("cpu temp %v (want 45, the package), board temp %v (want 35)", s.CPUTempCelsius, s.MotherboardTempCelsius)
	}
	for _, tmp := range s.Temperatures {
		if tmp.ValueCelsius > 100 {
			t.Errorf("implausible temperature kept: %+v", tmp)
		}
	}
	if len(s.Temperatures) != 4 {
		t.Errorf("temperatures %+v, want 4 (the stuck 127.5 °C dropped)", s.Temperatures)
	}
	wantFans := []schema.Fan{{Name: "CPU Fan", RPM: 1200}, {Name: "nct6775 fan2", RPM: 850}}
	if len(s.Fans) != 2 || s.Fans[0] != wantFans[0] || s.Fans[1] != wantFans[1] {
		t.Errorf("fans %+v, want %+v", s.Fans, wantFans)
	}
	if s.ServerModel != "System Product Name" || s.BIOSVersion != "1234" || s.BIOSDate != "01/01/2020" {
		t.Errorf("dmi: %q %q %q", s.ServerModel, s.BIOSVersion, s.BIOSDate)
	}
	if s.CPUMHz != 3300 || !s.IOMMUEnabled {
		t.Errorf("cpu_mhz %v (want 3300, the cpufreq average), iommu %v", s.CPUMHz, s.IOMMUEnabled)
	}
	if s.AgentVersion == "" || s.Version == "" {
		t.Errorf("versions %q %q", s.Version, s.AgentVersion)
	}
	// RAPL: the fixture's counters do not move, so 0 W from the second
	// collect on (the first has no earlier reading).
	if first.CPUPowerWatts != nil || s.CPUPowerWatts == nil || *s.CPUPowerWatts != 0 || s.DRAMPowerWatts == nil {
		t.Errorf("rapl: first %v, then cpu %v dram %v", first.CPUPowerWatts, s.CPUPowerWatts, s.DRAMPowerWatts)
	}
	want := schema.CPUPowerState{Governor: "powersave", AvailableGovernors: []string{"performance", "powersave"},
		Driver: "intel_pstate", MinFreqMHz: 800, MaxFreqMHz: 4700, CurrentFreqMHz: 3300}
	if s.CPUPowerState == nil || !reflect.DeepEqual(*s.CPUPowerState, want) {
		t.Errorf("cpu_power_state %+v, want %+v", s.CPUPowerState, want)
	}
	if v, ok := readInt("/proc/sys/vm/swappiness"); ok && (s.Swappiness == nil || *s.Swappiness != v) {
		t.Errorf("swappiness %v, /proc says %d", s.Swappiness, v)
	}
}

func readInt(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// RAPL watts are the change of energy_uj over time, per kind, across a
// counter wrap; core and uncore are not added to the package.
func TestRAPL(t *testing.T) {
	sys := t.TempDir()
	t.Setenv("HOST_SYS", sys)
	zone := func(name, kind string, uj, maxRange int) {
		d := filepath.Join(sys, "class/powercap", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, v := range map[string]string{"name": kind, "energy_uj": strconv.Itoa(uj), "max_energy_range_uj": strconv.Itoa(maxRange)} {
			if err := os.WriteFile(filepath.Join(d, f), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var r rapl
	if cpu, dram := r.read(time.Now()); cpu != nil || dram != nil {
		t.Errorf("no powercap: %v %v, want nil", cpu, dram)
	}
	t0 := time.Now()
	zone("intel-rapl:0", "package-0", 1_000_000, 10_000_000)
	zone("intel-rapl:0:0", "core", 500_000, 10_000_000)
	zone("intel-rapl:0:1", "dram", 9_000_000, 10_000_000)
	zone("intel-rapl:1", "package-1", 0, 10_000_000)
	if cpu, dram := r.read(t0); cpu != nil || dram != nil {
		t.Errorf("first reading: %v %v, want nil", cpu, dram)
	}
	zone("intel-rapl:0", "package-0", 500_000, 10_000_000) // wraps: +9.5 J
	zone("intel-rapl:0:0", "core", 9_500_000, 10_000_000)
	zone("intel-rapl:0:1", "dram", 1_000_000, 10_000_000) // wraps: +2 J
	zone("intel-rapl:1", "package-1", 20_000_000, 30_000_000)
	cpu, dram := r.read(t0.Add(2 * time.Second))
	if cpu == nil || dram == nil || *cpu != 4.75+10 || *dram != 1 {
		t.Errorf("cpu %v dram %v, want 14.75 W (two packages) and 1 W", deref(cpu), deref(dram))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// With no hwmon at all (this machine), lists are empty, not null, and
// temperatures are 0.
func TestSystemPluginWithoutSensors(t *testing.T) {
	p := plugintest.Start(t, plugintest.Build(t, "."), "HOST_SYS="+t.TempDir())
	var s schema.System
	raw := p.CollectJSON(t, &s)
	if !strings.Contains(string(raw), `"fans":[]`) || !strings.Contains(string(raw), `"temperatures":[]`) {
		t.Errorf("empty sensor lists not sent as []: %s", raw)
	}
	if s.CPUTempCelsius != 0 || s.RAMTotalBytes == 0 {
		t.Errorf("cpu temp %v, ram %d", s.CPUTempCelsius, s.RAMTotalBytes)
	}
}

func meminfoKiB(t *testing.T, key string) uint64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key+":" {
			n, _ := strconv.ParseUint(fields[1], 10, 64)
			return n
		}
	}
	t.Fatalf("%s not in /proc/meminfo", key)
	return 0
}

func TestBusyPercent(t *testing.T) {
	prev := cpuTimes(100, 50, 800)
	cur := cpuTimes(150, 100, 900)
	if got := busyPercent(prev, cur); got != 50 {
		t.Errorf("busy = %v, want 50", got)
	}
	if got := busyPercent(cur, cur); got != 0 {
		t.Errorf("no change: %v, want 0", got)
	}
	if got := busyPercent(cur, prev); got != 0 {
		t.Errorf("counters went backwards: %v, want 0", got)
	}
}

func cpuTimes(user, system, idle float64) cpu.TimesStat {
	return cpu.TimesStat{User: user, System: system, Idle: idle}
}

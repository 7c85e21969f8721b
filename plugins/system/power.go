package main

import (
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/hostfs"
	"github.com/towerd/towerd/sdk/schema"
)

// rapl turns the powercap RAPL energy counters into watts: the counters
// are cumulative microjoules, so power is the change between two collects
// over the time between them.
type rapl struct {
	prev map[string]uint64 // energy_uj per zone directory
	at   time.Time
}

type raplZone struct {
	dir      string
	kind     string // "cpu" (package-N) or "dram"
	energy   uint64
	maxRange uint64
}

// zones lists the package and DRAM zones under class/powercap; core and
// uncore are parts of the package and are not added again.
func raplZones() []raplZone {
	dirs, _ := filepath.Glob(hostfs.Sys("class/powercap/intel-rapl:*"))
	sort.Strings(dirs)
	var out []raplZone
	for _, d := range dirs {
		name := hostfs.String(filepath.Join(d, "name"))
		kind := ""
		switch {
		case strings.HasPrefix(name, "package"):
			kind = "cpu"
		case name == "dram":
			kind = "dram"
		default:
			continue
		}
		e, ok := hostfs.Int(filepath.Join(d, "energy_uj"))
		if !ok || e < 0 {
			continue
		}
		m, _ := hostfs.Int(filepath.Join(d, "max_energy_range_uj"))
		out = append(out, raplZone{dir: d, kind: kind, energy: uint64(e), maxRange: uint64(max(m, 0))})
	}
	return out
}

// read returns CPU and DRAM watts, nil where the host has no such zone or
// this is the first reading.
func (r *rapl) read(now time.Time) (cpu, dram *float64) {
	zones := raplZones()
	prev, dt := r.prev, now.Sub(r.at).Seconds()
	r.prev, r.at = map[string]uint64{}, now
	sum := map[string]float64{} // watts per kind, for the kinds with a previous reading
	for _, z := range zones {
		r.prev[z.dir] = z.energy
		p, ok := prev[z.dir]
		if !ok || dt <= 0 {
			continue
		}
		delta := z.energy - p
		if z.energy < p { // the counter wrapped at max_energy_range_uj
			delta = z.maxRange - p + z.energy
		}
		sum[z.kind] += float64(delta) / 1e6 / dt
	}
	if w, ok := sum["cpu"]; ok {
		w = round2(w)
		cpu = &w
	}
	if w, ok := sum["dram"]; ok {
		w = round2(w)
		dram = &w
	}
	return cpu, dram
}

// swappiness reads vm.swappiness.
func swappiness() *int {
	v, ok := hostfs.Int(hostfs.Proc("sys/vm/swappiness"))
	if !ok {
		return nil
	}
	n := int(v)
	return &n
}

// powerState reads the cpufreq policy of cpu0; nil without cpufreq (VMs).
func powerState(currentMHz float64) *schema.CPUPowerState {
	dir := hostfs.Sys("devices/system/cpu/cpu0/cpufreq")
	gov := hostfs.String(filepath.Join(dir, "scaling_governor"))
	if gov == "" {
		return nil
	}
	st := &schema.CPUPowerState{
		Governor:           gov,
		AvailableGovernors: strings.Fields(hostfs.String(filepath.Join(dir, "scaling_available_governors"))),
		Driver:             hostfs.String(filepath.Join(dir, "scaling_driver")),
		CurrentFreqMHz:     currentMHz,
	}
	if khz, ok := hostfs.Int(filepath.Join(dir, "cpuinfo_min_freq")); ok {
		st.MinFreqMHz = float64(khz) / 1000
	}
	if khz, ok := hostfs.Int(filepath.Join(dir, "cpuinfo_max_freq")); ok {
		st.MaxFreqMHz = float64(khz) / 1000
	}
	return st
}

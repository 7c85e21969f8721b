package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/bundle"
	"github.com/towerd/towerd/sdk"
)

// Vdev is one top-level vdev of a pool's config tree.
type Vdev struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	State          string   `json:"state"`
	ReadErrors     int64    `json:"read_errors"`
	WriteErrors    int64    `json:"write_errors"`
	ChecksumErrors int64    `json:"checksum_errors"`
	Devices        []Device `json:"devices"`
}

// Device is a leaf device of a vdev.
type Device struct {
	Name           string `json:"name"`
	State          string `json:"state"`
	ReadErrors     int64  `json:"read_errors"`
	WriteErrors    int64  `json:"write_errors"`
	ChecksumErrors int64  `json:"checksum_errors"`
}

// Pool is one ZFS pool.
type Pool struct {
	Name                 string    `json:"name"`
	SizeBytes            int64     `json:"size_bytes"`
	AllocatedBytes       int64     `json:"allocated_bytes"`
	UsedBytes            int64     `json:"used_bytes"`
	FreeBytes            int64     `json:"free_bytes"`
	FragmentationPercent float64   `json:"fragmentation_percent"`
	CapacityPercent      float64   `json:"capacity_percent"`
	DedupRatio           float64   `json:"dedup_ratio"`
	Health               string    `json:"health"`
	Altroot              string    `json:"altroot,omitempty"`
	GUID                 string    `json:"guid"`
	Readonly             bool      `json:"readonly"`
	Autoexpand           bool      `json:"autoexpand"`
	Autotrim             string    `json:"autotrim"`
	State                string    `json:"state"`
	ScanStatus           string    `json:"scan_status"`
	ScanState            string    `json:"scan_state"`
	ScanErrors           int64     `json:"scan_errors"`
	ScanRepairedBytes    int64     `json:"scan_repaired_bytes"`
	ScanStartTime        string    `json:"scan_start_time,omitempty"`
	ScanEndTime          string    `json:"scan_end_time,omitempty"`
	ScanProgressPercent  float64   `json:"scan_progress_percent"`
	Vdevs                []Vdev    `json:"vdevs"`
	ReadErrors           int64     `json:"read_errors"`
	WriteErrors          int64     `json:"write_errors"`
	ChecksumErrors       int64     `json:"checksum_errors"`
	CorruptedFiles       int       `json:"corrupted_files"`
	CorruptedFilePaths   []string  `json:"corrupted_file_paths,omitempty"`
	IsBootPool           bool      `json:"is_boot_pool"`
	Timestamp            time.Time `json:"timestamp"`
}

func newPools(t *tools) *bundle.Collector {
	return listing(sdk.Info{
		Name:            "zfs",
		Topic:           "zfs_pools_update",
		Description:     "ZFS pools: capacity, health, scrub, vdev tree and errors (zpool list/get/status)",
		DefaultInterval: 30 * time.Second,
	}, func(ctx context.Context, c *bundle.Collector) ([]Pool, error) { return collectPools(ctx, t, c) }, "zpool", "zfs")
}

// collectPools runs zpool three times for all pools at once: list, get,
// status.
func collectPools(ctx context.Context, t *tools, c *bundle.Collector) ([]Pool, error) {
	rows, err := t.rows(ctx, c, 9, "zpool", "list", "-H", "-p", "-o", "name,size,allocated,free,fragmentation,capacity,dedupratio,health,altroot")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	pools := []Pool{}
	byName := map[string]*Pool{}
	for _, f := range rows {
		p := Pool{Name: f[0], SizeBytes: num(f[1]), AllocatedBytes: num(f[2]), FreeBytes: num(f[3]),
			FragmentationPercent: float(f[4]), CapacityPercent: float(f[5]),
			DedupRatio: float(strings.TrimSuffix(f[6], "x")), Health: f[7], State: f[7], Vdevs: []Vdev{}, Timestamp: now}
		p.UsedBytes = p.AllocatedBytes
		if f[8] != "-" {
			p.Altroot = f[8]
		}
		pools = append(pools, p)
	}
	for i := range pools {
		byName[pools[i].Name] = &pools[i]
	}
	if len(pools) == 0 {
		return pools, nil
	}
	props, err := t.rows(ctx, c, 3, "zpool", "get", "-H", "-p", "-o", "name,property,value", "guid,readonly,autoexpand,autotrim")
	if err != nil {
		return nil, err
	}
	for _, f := range props {
		if byName[f[0]] == nil {
			continue
		}
		p := byName[f[0]]
		switch f[1] {
		case "guid":
			p.GUID = f[2]
		case "readonly":
			p.Readonly = f[2] == "on"
		case "autoexpand":
			p.Autoexpand = f[2] == "on"
		case "autotrim":
			p.Autotrim = f[2]
		}
	}
	status, err := t.run(ctx, c, "zpool", "status", "-v", "-p")
	if err != nil {
		return nil, err
	}
	parseStatus(status, byName)
	return pools, nil
}

func num(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

func float(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	return f
}

// parseStatus reads `zpool status -v -p` for every pool: the state:,
// scan: and errors: sections and the config tree.
func parseStatus(lines []string, pools map[string]*Pool) {
	var p *Pool
	section := ""
	group := "" // logs, cache, spares, special, dedup: vdevs below are of that class
	for _, raw := range lines {
		line := strings.TrimSpace(raw)
		key, val, isKey := strings.Cut(line, ":")
		if isKey && !strings.HasPrefix(raw, "\t") && !strings.Contains(key, " ") {
			switch key {
			case "pool":
				p, section, group = pools[strings.TrimSpace(val)], "", ""
				continue
			case "state", "scan", "config", "errors", "status", "action", "see", "remove", "checkpoint":
				section = key
				if p != nil {
					switch key {
					case "state":
						p.State = strings.TrimSpace(val)
					case "scan":
						p.ScanStatus = strings.TrimSpace(val)
					case "errors":
						if v := strings.TrimSpace(val); v != "" && v != "No known data errors" && !strings.HasPrefix(v, "Permanent errors") {
							p.CorruptedFilePaths = append(p.CorruptedFilePaths, v)
						}
					}
				}
				continue
			}
		}
		if p == nil || line == "" {
			continue
		}
		switch section {
		case "scan":
			p.ScanStatus += " " + line
		case "errors":
			if !strings.HasPrefix(line, "Permanent errors") {
				p.CorruptedFilePaths = append(p.CorruptedFilePaths, line)
			}
		case "config":
			configLine(raw, p, &group)
		}
	}
	for _, p := range pools {
		p.CorruptedFiles = len(p.CorruptedFilePaths)
		scan(p)
	}
}

// configLine adds one row of the NAME STATE READ WRITE CKSUM tree; depth
// is the indent after the leading tab, two spaces per level.
func configLine(raw string, p *Pool, group *string) {
	body := strings.TrimPrefix(raw, "\t")
	depth := (len(body) - len(strings.TrimLeft(body, " "))) / 2
	f := strings.Fields(body)
	if len(f) == 0 || f[0] == "NAME" {
		return
	}
	var state string
	var r, w, ck int64
	if len(f) >= 5 {
		state, r, w, ck = f[1], num(f[2]), num(f[3]), num(f[4])
	} else if len(f) >= 2 {
		state = f[1]
	}
	switch {
	case depth == 0 && f[0] == p.Name:
		p.ReadErrors, p.WriteErrors, p.ChecksumErrors = r, w, ck
		*group = ""
	case depth == 0:
		*group = f[0] // logs, cache, spares, special, dedup
	case depth == 1:
		typ := vdevType(f[0])
		if *group != "" {
			typ = *group
		}
		v := Vdev{Name: f[0], Type: typ, State: state, ReadErrors: r, WriteErrors: w, ChecksumErrors: ck, Devices: []Device{}}
		if vdevType(f[0]) == "disk" {
			v.Devices = append(v.Devices, Device{Name: f[0], State: state, ReadErrors: r, WriteErrors: w, ChecksumErrors: ck})
		}
		p.Vdevs = append(p.Vdevs, v)
	case depth >= 2 && len(p.Vdevs) > 0:
		v := &p.Vdevs[len(p.Vdevs)-1]
		v.Devices = append(v.Devices, Device{Name: f[0], State: state, ReadErrors: r, WriteErrors: w, ChecksumErrors: ck})
	}
}

func vdevType(name string) string {
	for _, t := range []string{"mirror", "raidz3", "raidz2", "raidz1", "raidz", "draid", "replacing", "spare"} {
		if strings.HasPrefix(name, t+"-") || name == t {
			return t
		}
	}
	return "disk"
}

// scan derives the scan_* fields from the status text, e.g.
// "scrub repaired 0B in 00:10:02 with 0 errors on Sun Nov  9 02:35:46 2025"
// or "scrub in progress since …" with a "N% done" line.
func scan(p *Pool) {
	s := p.ScanStatus
	switch {
	case s == "" || strings.HasPrefix(s, "none requested"):
		p.ScanState = "none"
	case strings.Contains(s, "in progress"):
		p.ScanState = "scanning"
	case strings.Contains(s, "canceled"):
		p.ScanState = "canceled"
	default:
		p.ScanState = "finished"
	}
	f := strings.Fields(s)
	for i, w := range f {
		switch {
		case w == "repaired" && i+1 < len(f):
			p.ScanRepairedBytes = sizeBytes(f[i+1])
		case w == "with" && i+2 < len(f) && strings.HasPrefix(f[i+2], "error"):
			p.ScanErrors = num(f[i+1])
		case strings.HasSuffix(w, "%") && i+1 < len(f) && strings.HasPrefix(f[i+1], "done"):
			p.ScanProgressPercent = float(w)
		}
	}
	if p.ScanState == "finished" {
		p.ScanProgressPercent = 100
	}
	const layout = "Mon Jan 2 15:04:05 2006"
	if i := strings.Index(s, " on "); i >= 0 && p.ScanState != "scanning" {
		if t, err := time.ParseInLocation(layout, strings.Join(strings.Fields(s[i+4:]), " "), time.Local); err == nil {
			p.ScanEndTime = t.UTC().Format(time.RFC3339)
		}
	}
	if i := strings.Index(s, " since "); i >= 0 {
		ff := strings.Fields(s[i+7:])
		if len(ff) >= 5 {
			if t, err := time.ParseInLocation(layout, strings.Join(ff[:5], " "), time.Local); err == nil {
				p.ScanStartTime = t.UTC().Format(time.RFC3339)
			}
		}
	}
}

// sizeBytes reads "0B", "1.5M", or a plain byte count (-p).
func sizeBytes(s string) int64 {
	s = strings.TrimSuffix(s, "B")
	mult := 1.0
	if n := len(s); n > 0 {
		if i := strings.IndexByte("KMGTPE", s[n-1]); i >= 0 {
			mult = float64(int64(1) << (10 * (i + 1)))
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return int64(v * mult)
}

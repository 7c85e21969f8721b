package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/towerd/towerd/plugins/internal/bundle"
	"github.com/towerd/towerd/sdk"
)

// Dataset is one ZFS file system or volume.
type Dataset struct {
	Name             string    `json:"name"`
	Type             string    `json:"type"`
	Pool             string    `json:"pool"`
	UsedBytes        int64     `json:"used_bytes"`
	AvailableBytes   int64     `json:"available_bytes"`
	ReferencedBytes  int64     `json:"referenced_bytes"`
	CompressRatio    float64   `json:"compress_ratio"`
	Mountpoint       string    `json:"mountpoint,omitempty"`
	QuotaBytes       int64     `json:"quota_bytes"`
	ReservationBytes int64     `json:"reservation_bytes"`
	Compression      string    `json:"compression"`
	Readonly         bool      `json:"readonly"`
	Timestamp        time.Time `json:"timestamp"`
}

// Snapshot is one ZFS snapshot.
type Snapshot struct {
	Name            string    `json:"name"`
	Dataset         string    `json:"dataset"`
	UsedBytes       int64     `json:"used_bytes"`
	ReferencedBytes int64     `json:"referenced_bytes"`
	CreationTime    string    `json:"creation_time"`
	Creation        string    `json:"creation"`
	Timestamp       time.Time `json:"timestamp"`
}

// maxSnapshots bounds the list: the newest are kept.
const maxSnapshots = 5000

func newDatasets(t *tools) *bundle.Collector {
	return listing(sdk.Info{
		Name:            "zfs_datasets",
		Topic:           "zfs_datasets_update",
		Description:     "ZFS file systems and volumes (zfs list)",
		DefaultInterval: 60 * time.Second,
	}, func(ctx context.Context, c *bundle.Collector) (out []Dataset, err error) {
		rows, err := t.rows(ctx, c, 11, "zfs", "list", "-H", "-p", "-t", "filesystem,volume", "-o",
			"name,type,used,available,referenced,compressratio,mountpoint,quota,reservation,compression,readonly")
		now := time.Now()
		for _, f := range rows {
			pool, _, _ := strings.Cut(f[0], "/")
			d := Dataset{Name: f[0], Type: f[1], Pool: pool, UsedBytes: num(f[2]), AvailableBytes: num(f[3]),
				ReferencedBytes: num(f[4]), CompressRatio: float(strings.TrimSuffix(f[5], "x")),
				QuotaBytes: num(f[7]), ReservationBytes: num(f[8]), Compression: f[9], Readonly: f[10] == "on", Timestamp: now}
			if f[6] != "-" {
				d.Mountpoint = f[6]
			}
			out = append(out, d)
		}
		return out, err
	}, "zfs")
}

func newSnapshots(t *tools) *bundle.Collector {
	return listing(sdk.Info{
		Name:            "zfs_snapshots",
		Topic:           "zfs_snapshots_update",
		Description:     "ZFS snapshots (zfs list -t snapshot), newest 5000",
		DefaultInterval: 300 * time.Second,
	}, func(ctx context.Context, c *bundle.Collector) (out []Snapshot, err error) {
		rows, err := t.rows(ctx, c, 4, "zfs", "list", "-H", "-p", "-t", "snapshot", "-s", "creation", "-o", "name,used,referenced,creation")
		if len(rows) > maxSnapshots { // sorted by creation: keep the newest
			rows = rows[len(rows)-maxSnapshots:]
		}
		now := time.Now()
		for _, f := range rows {
			ds, _, _ := strings.Cut(f[0], "@")
			s := Snapshot{Name: f[0], Dataset: ds, UsedBytes: num(f[1]), ReferencedBytes: num(f[2]), Timestamp: now}
			if sec, err := strconv.ParseInt(f[3], 10, 64); err == nil {
				s.CreationTime = time.Unix(sec, 0).UTC().Format(time.RFC3339)
				s.Creation = s.CreationTime
			}
			out = append(out, s)
		}
		return out, err
	}, "zfs")
}

// ARC is the payload of zfs_arc_stats_update.
type ARC struct {
	Available          bool      `json:"available"`
	SizeBytes          int64     `json:"size_bytes"`
	SizeMB             float64   `json:"size_mb"`
	TargetSizeBytes    int64     `json:"target_size_bytes"`
	MinSizeBytes       int64     `json:"min_size_bytes"`
	MaxSizeBytes       int64     `json:"max_size_bytes"`
	ConfiguredMaxBytes int64     `json:"configured_max_bytes"`
	UsagePercent       float64   `json:"usage_percent"`
	Hits               int64     `json:"hits"`
	Misses             int64     `json:"misses"`
	HitRatioPercent    float64   `json:"hit_ratio_percent"`
	MRUHitRatioPercent float64   `json:"mru_hit_ratio_percent"`
	MFUHitRatioPercent float64   `json:"mfu_hit_ratio_percent"`
	L2SizeBytes        int64     `json:"l2_size_bytes,omitempty"`
	L2Hits             int64     `json:"l2_hits,omitempty"`
	L2Misses           int64     `json:"l2_misses,omitempty"`
	Timestamp          time.Time `json:"timestamp"`
}

const arcstats = "proc/spl/kstat/zfs/arcstats"

func newARC() *bundle.Collector {
	c := bundle.New(sdk.Info{
		Name:            "zfs_arc",
		Topic:           "zfs_arc_stats_update",
		Description:     "ZFS ARC size and hit ratios (/proc/spl/kstat/zfs/arcstats)",
		DefaultInterval: 30 * time.Second,
	}, nil)
	c.CollectFunc = func(_ context.Context, c *bundle.Collector) (any, error) {
		a := ARC{Timestamp: time.Now()}
		b, err := bundle.ReadSmall(c.Path(arcstats), 1<<20)
		if err != nil {
			return a, nil // no ZFS module: a zeroed object, as HA expects
		}
		parseARC(b, &a)
		if v, err := bundle.ReadSmall(c.Path("sys/module/zfs/parameters/zfs_arc_max"), 64); err == nil {
			a.ConfiguredMaxBytes, _ = strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		}
		return a, nil
	}
	return c
}

// parseARC reads the kstat format: two header lines, then "name type data".
func parseARC(b []byte, a *ARC) {
	v := map[string]int64{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if i < 2 || len(f) != 3 {
			continue
		}
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			v[f[0]] = n
		}
	}
	if len(v) == 0 {
		return
	}
	a.Available = true
	a.SizeBytes, a.TargetSizeBytes, a.MinSizeBytes, a.MaxSizeBytes = v["size"], v["c"], v["c_min"], v["c_max"]
	a.Hits, a.Misses = v["hits"], v["misses"]
	a.L2SizeBytes, a.L2Hits, a.L2Misses = v["l2_size"], v["l2_hits"], v["l2_misses"]
	a.SizeMB = round2(float64(a.SizeBytes) / (1 << 20))
	a.UsagePercent = ratio(a.SizeBytes, a.MaxSizeBytes)
	a.HitRatioPercent = ratio(a.Hits, a.Hits+a.Misses)
	a.MRUHitRatioPercent = ratio(v["mru_hits"], v["mru_hits"]+v["mru_ghost_hits"])
	a.MFUHitRatioPercent = ratio(v["mfu_hits"], v["mfu_hits"]+v["mfu_ghost_hits"])
}

func ratio(part, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return round2(float64(part) / float64(total) * 100)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

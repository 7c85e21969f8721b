package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/bundle"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
)

func collect(t *testing.T, c *bundle.Collector, root string, opts map[string]string, out any) []byte {
	t.Helper()
	if err := c.Configure(context.Background(), sdk.Config{Root: root, Options: opts}); err != nil {
		t.Fatal(err)
	}
	return unraidtest.CollectJSON(t, c, out)
}

func TestPools(t *testing.T) {
	root := unraidtest.FixtureRoot(t)
	argv := filepath.Join(t.TempDir(), "argv")
	t.Setenv("ZFS_ARGV_LOG", argv)
	var pools []Pool
	collect(t, newPools(&tools{}), root, nil, &pools)
	if len(pools) != 2 {
		t.Fatalf("pools = %+v", pools)
	}
	cache, tank := pools[0], pools[1]
	if cache.Name != "cache" || cache.Health != "ONLINE" || cache.State != "ONLINE" || cache.SizeBytes != 999653638144 ||
		cache.UsedBytes != cache.AllocatedBytes || cache.CapacityPercent != 41 || cache.DedupRatio != 1 || cache.GUID != "10574932412315631257" ||
		cache.Autotrim != "on" || cache.Autoexpand || cache.ScanState != "finished" || cache.ScanProgressPercent != 100 || cache.CorruptedFiles != 0 {
		t.Errorf("cache = %+v", cache)
	}
	if len(cache.Vdevs) != 1 || cache.Vdevs[0].Type != "mirror" || len(cache.Vdevs[0].Devices) != 2 || cache.Vdevs[0].Devices[1].Name != "nvme1n1p1" {
		t.Errorf("cache vdevs = %+v", cache.Vdevs)
	}
	if cache.ScanEndTime == "" {
		t.Error("cache scan end time missing")
	}
	if tank.Health != "DEGRADED" || tank.ScanState != "scanning" || tank.ScanProgressPercent != 59.07 || tank.CorruptedFiles != 2 ||
		!tank.Autoexpand || tank.ScanStartTime == "" || len(tank.CorruptedFilePaths) != 2 {
		t.Errorf("tank = %+v", tank)
	}
	if len(tank.Vdevs) != 2 || tank.Vdevs[0].Type != "raidz1" || tank.Vdevs[0].State != "DEGRADED" || len(tank.Vdevs[0].Devices) != 3 ||
		tank.Vdevs[0].Devices[1].ChecksumErrors != 47 || tank.Vdevs[0].Devices[1].ReadErrors != 3 || tank.Vdevs[1].Type != "logs" {
		t.Errorf("tank vdevs = %+v", tank.Vdevs)
	}
	// corrupted_files must be a number: HA rejects the whole list otherwise.
	b, _ := json.Marshal(pools)
	if !strings.Contains(string(b), `"corrupted_files":2`) {
		t.Error("corrupted_files is not an int")
	}
	log, _ := os.ReadFile(argv)
	if n := strings.Count(string(log), "\n"); n != 3 {
		t.Errorf("zpool ran %d times, want 3 (list, get, status for all pools):\n%s", n, log)
	}
}

func TestDatasetsSnapshotsARC(t *testing.T) {
	root := unraidtest.FixtureRoot(t)
	z := &tools{}
	var ds []Dataset
	collect(t, newDatasets(z), root, nil, &ds)
	if len(ds) != 7 || ds[1].Name != "cache/appdata" || ds[1].Pool != "cache" || ds[1].CompressRatio != 1.61 || ds[1].Mountpoint != "/mnt/cache/appdata" ||
		ds[3].Type != "volume" || ds[3].Mountpoint != "" || !ds[6].Readonly || ds[6].QuotaBytes != 2000000000000 || ds[6].Compression != "zstd" {
		t.Errorf("datasets = %+v", ds)
	}
	var snaps []Snapshot
	collect(t, newSnapshots(z), root, nil, &snaps)
	if len(snaps) != 4 || snaps[0].Dataset != "cache/appdata" || snaps[0].Creation != "2025-11-22T00:00:00Z" || snaps[0].CreationTime != snaps[0].Creation {
		t.Errorf("snapshots = %+v", snaps)
	}
	var arc ARC
	collect(t, newARC(), root, nil, &arc)
	if !arc.Available || arc.SizeBytes != 16701934232 || arc.TargetSizeBytes != 16765157376 || arc.ConfiguredMaxBytes != 16777216000 ||
		arc.HitRatioPercent != 97.65 || arc.MRUHitRatioPercent != 99.45 || arc.L2SizeBytes != 0 {
		t.Errorf("arc = %+v", arc)
	}
}

// Without ZFS (no tools, no kstat) every collector answers with empty
// lists and a zeroed ARC, as the integration expects.
func TestNoZFS(t *testing.T) {
	root := t.TempDir()
	z := &tools{}
	opts := map[string]string{"zpool": filepath.Join(root, "missing-zpool")}
	if b := collect(t, newPools(z), root, opts, nil); string(b) != "[]" {
		t.Errorf("pools: %s", b)
	}
	if b := collect(t, newDatasets(z), root, map[string]string{"zfs": filepath.Join(root, "missing")}, nil); string(b) != "[]" {
		t.Errorf("datasets: %s", b)
	}
	var arc ARC
	collect(t, newARC(), root, nil, &arc)
	if arc.Available || arc.SizeBytes != 0 {
		t.Errorf("arc: %+v", arc)
	}
	// The module is not loaded: zpool says so, and that is not an error.
	noModule := writeScript(t, "echo 'The ZFS modules are not loaded.' >&2\necho 'Try running /sbin/modprobe zfs as root to load them.' >&2\nexit 1\n")
	if b := collect(t, newPools(z), root, map[string]string{"zpool": noModule}, nil); string(b) != "[]" {
		t.Errorf("no module: %s", b)
	}
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A tool that prints forever or hangs is an error, never a hang.
func TestToolMisbehaves(t *testing.T) {
	z := &tools{}
	c := newPools(z)
	chatty := writeScript(t, "while :; do echo 'tank\t1\t1\t1\t1\t1\t1.00x\tONLINE\t-'; done\n")
	if err := c.Configure(context.Background(), sdk.Config{Root: t.TempDir(), Options: map[string]string{"zpool": chatty}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Collect(ctx)
	if err == nil || !strings.Contains(err.Error(), "printed more than") || time.Since(start) > 5*time.Second {
		t.Errorf("chatty zpool: %v after %v", err, time.Since(start))
	}
	hang := writeScript(t, "exec sleep 1000\n")
	if err := c.Configure(context.Background(), sdk.Config{Root: t.TempDir(), Options: map[string]string{"zpool": hang}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := c.Collect(ctx); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("hanging zpool: %v after %v", err, time.Since(start))
	}
}

// The bundle as a real process: one executable serves the four collectors.
func TestBundleProcess(t *testing.T) {
	_, _, payloads := unraidtest.CheckBundle(t, ".", "zfs", unraidtest.FixtureRoot(t), map[string]string{
		"zfs": "zfs_pools_update", "zfs_datasets": "zfs_datasets_update",
		"zfs_snapshots": "zfs_snapshots_update", "zfs_arc": "zfs_arc_stats_update",
	})
	for name, payload := range payloads {
		if len(payload) < 50 {
			t.Errorf("%s: short payload %s", name, payload)
		}
	}
}

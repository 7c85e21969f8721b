package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/towerd/towerd/sdk/schema"
)

// maxStatsBody caps what one stats answer may take (a real one is ~2-5 KiB).
const maxStatsBody = 1 << 20

// detail is what the per-container calls add to a list entry.
type detail struct {
	gone         bool // removed between list and stats/inspect: skip it
	stats        *container.StatsResponse
	restartCount int
	autostart    bool
}

// cpuSample is the cumulative CPU time of a container and of the host at one
// stats read, both in nanoseconds, and the network byte counters then.
type cpuSample struct {
	container uint64
	system    uint64
	cpus      uint32
	rx, tx    uint64
	read      time.Time // when the daemon read the sample
}

// fetchDetails runs inspect (all containers) and a one-shot stats call
// (running and paused ones) with at most c.concurrency calls in flight,
// within c.statsBudget or the Collect deadline, whichever comes first. It
// returns when every worker is done; nothing outlives the call.
func (c *collector) fetchDetails(ctx context.Context, cli *client.Client, items []container.Summary) []detail {
	out := make([]detail, len(items))
	if len(items) == 0 {
		return out
	}
	budget := c.statsBudget
	if dl, ok := ctx.Deadline(); ok {
		// Leave a fifth of the remaining time to assemble and send the answer.
		if rem := time.Until(dl) * 4 / 5; rem < budget {
			budget = rem
		}
	}
	sctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	autostart := c.autostartNames()
	workers := min(c.concurrency, len(items))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out[i] = c.detailOf(sctx, cli, items[i], autostart)
			}
		}()
	}
	for i := range items {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out
}

// detailOf fetches inspect and stats of one container. Errors other than
// "no such container" leave the fields at zero: a slow daemon costs
// numbers, not the whole list.
func (c *collector) detailOf(ctx context.Context, cli *client.Client, s container.Summary, autostart map[string]bool) detail {
	var d detail
	ins, err := cli.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		d.gone = true
		return d
	case err == nil:
		d.restartCount = ins.Container.RestartCount
		if autostart != nil {
			d.autostart = autostart[baseName(s)]
		} else if hc := ins.Container.HostConfig; hc != nil {
			d.autostart = !hc.RestartPolicy.IsNone()
		}
	default:
		c.log.Debug("inspect failed", "container", s.ID, "error", err)
	}
	if s.State != container.StateRunning && s.State != container.StatePaused {
		return d
	}
	st, err := c.statsOf(ctx, cli, s.ID)
	switch {
	case cerrdefs.IsNotFound(err):
		d.gone = true
	case err != nil:
		c.log.Debug("stats failed", "container", s.ID, "error", err)
	default:
		d.stats = st
	}
	return d
}

func baseName(s container.Summary) string {
	if len(s.Names) == 0 {
		return ""
	}
	n := s.Names[0]
	if len(n) > 0 && n[0] == '/' {
		n = n[1:]
	}
	return n
}

// statsOf reads one non-streaming stats sample.
func (c *collector) statsOf(ctx context.Context, cli *client.Client, id string) (*container.StatsResponse, error) {
	res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return decodeStats(io.LimitReader(res.Body, maxStatsBody))
}

// decodeStats parses one stats record as the Engine API sends it.
func decodeStats(r io.Reader) (*container.StatsResponse, error) {
	var st container.StatsResponse
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return nil, fmt.Errorf("decode stats: %w", err)
	}
	return &st, nil
}

// applyStats fills memory and network fields from a stats sample. Memory
// usage excludes the page cache the way `docker stats` does (inactive_file
// on cgroup v2, total_inactive_file on v1).
func applyStats(item *schema.Container, st *container.StatsResponse) {
	item.MemoryUsageBytes = memoryUsage(st.MemoryStats)
	item.MemoryLimitBytes = st.MemoryStats.Limit
	for _, n := range st.Networks {
		item.NetworkRxBytes += n.RxBytes
		item.NetworkTxBytes += n.TxBytes
	}
}

func memoryUsage(m container.MemoryStats) uint64 {
	cache, ok := m.Stats["total_inactive_file"] // cgroup v1
	if !ok {
		cache = m.Stats["inactive_file"] // cgroup v2
	}
	if cache < m.Usage {
		return m.Usage - cache
	}
	return m.Usage
}

func cpuSampleOf(st *container.StatsResponse) cpuSample {
	cpus := st.CPUStats.OnlineCPUs
	if cpus == 0 {
		cpus = uint32(len(st.CPUStats.CPUUsage.PercpuUsage))
	}
	s := cpuSample{container: st.CPUStats.CPUUsage.TotalUsage, system: st.CPUStats.SystemUsage, cpus: cpus, read: st.Read}
	for _, n := range st.Networks {
		s.rx += n.RxBytes
		s.tx += n.TxBytes
	}
	return s
}

// netRates is the network throughput between two samples in bytes/s; a
// counter reset (restarted container) or no time between them gives 0.
func netRates(prev, cur cpuSample) (rx, tx float64) {
	dt := cur.read.Sub(prev.read).Seconds()
	if dt <= 0 || prev.read.IsZero() {
		return 0, 0
	}
	rate := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(int64(float64(b-a)/dt*100+0.5)) / 100
	}
	return rate(prev.rx, cur.rx), rate(prev.tx, cur.tx)
}

// cpuPercent is the container's share of the host CPU between two samples,
// scaled like `docker stats` (100 % = one full CPU). Counter resets (a
// restarted container) and missing data give 0.
func cpuPercent(prev, cur cpuSample) float64 {
	if cur.container < prev.container || cur.system <= prev.system || cur.cpus == 0 {
		return 0
	}
	dc := float64(cur.container - prev.container)
	ds := float64(cur.system - prev.system)
	return dc / ds * float64(cur.cpus) * 100
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// IdleResult is the steady state with no client connected: what the agent
// costs all day. It is measured once every process has run at least
// Options.idle and completed Options.minGC garbage collection cycles
// (memory before the first cycles is not what a long-running agent holds).
type IdleResult struct {
	// AfterSeconds is how long the agent had run when the window began.
	AfterSeconds  float64        `json:"after_seconds"`
	WindowSeconds float64        `json:"window_seconds"`
	Processes     []IdleProcStat `json:"processes"`
	Total         IdleProcStat   `json:"total"`
	// InstalledBytes is what an installation puts on disk: bin/towerd and
	// the plugin executables.
	InstalledBytes int64  `json:"installed_bytes"`
	Note           string `json:"note,omitempty"`
}

// IdleProcStat is one process at steady state: memory from
// /proc/PID/status at the end of the window, CPU and wakeups over it.
type IdleProcStat struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid,omitempty"`
	VmRSSKiB   int64   `json:"vm_rss_kib"`
	RssAnonKiB int64   `json:"rss_anon_kib"`
	RssFileKiB int64   `json:"rss_file_kib"`
	Threads    int     `json:"threads"`
	CPUMillis  float64 `json:"cpu_ms"`
	// CPUMillisPer90s is CPUMillis scaled to 90 s (the unit).
	CPUMillisPer90s float64 `json:"cpu_ms_per_90s"`
	// WakeupsPerSec counts voluntary context switches of all the
	// process's threads: each is a sleep that something had to end.
	WakeupsPerSec float64 `json:"wakeups_per_second"`
	// GCCycles completed when the window ended (-1: not reported).
	GCCycles int64 `json:"gc_cycles"`
}

func (t *IdleProcStat) add(s IdleProcStat) {
	t.VmRSSKiB += s.VmRSSKiB
	t.RssAnonKiB += s.RssAnonKiB
	t.RssFileKiB += s.RssFileKiB
	t.Threads += s.Threads
	t.CPUMillis += s.CPUMillis
	t.CPUMillisPer90s += s.CPUMillisPer90s
	t.WakeupsPerSec += s.WakeupsPerSec
}

// idlePhase waits for the steady state with no client connected, then
// measures over o.idleWindow.
func (a *agentRun) idlePhase(ctx context.Context, procs map[string]int) (*IdleResult, error) {
	res := &IdleResult{InstalledBytes: a.installed}
	fmt.Printf("idle: no clients; waiting until the agent has run %v and every process has completed %d GC cycles (at most %v)\n",
		a.o.idle, a.o.minGC, a.o.idleMax)
	for {
		up := time.Since(a.started)
		low := a.lowGC(procs)
		if up >= a.o.idle && low == "" {
			break
		}
		if up >= a.o.idleMax {
			res.Note = fmt.Sprintf("after %v still below %d GC cycles: %s", a.o.idleMax, a.o.minGC, low)
			fmt.Println("idle:", res.Note)
			break
		}
		if !sleepCtx(ctx, time.Second) {
			return res, ctx.Err()
		}
	}
	res.AfterSeconds = time.Since(a.started).Seconds()
	fmt.Printf("idle: measuring over %v\n", a.o.idleWindow)
	cpu0, wake0 := cpuTimes(procs), wakeups(procs)
	t0 := time.Now()
	if !sleepCtx(ctx, a.o.idleWindow) {
		return res, ctx.Err()
	}
	cpu1, wake1 := cpuTimes(procs), wakeups(procs)
	window := time.Since(t0)
	res.WindowSeconds = window.Seconds()
	for _, name := range sortedNames(procs) {
		pid := procs[name]
		st, err := readStatus(pid)
		if err != nil {
			return res, fmt.Errorf("idle: %s (pid %d) gone: %w", name, pid, err)
		}
		st.Name, st.PID = name, pid
		st.CPUMillis = float64((cpu1.sched[name] - cpu0.sched[name]).Microseconds()) / 1000
		st.CPUMillisPer90s = st.CPUMillis * 90 / window.Seconds()
		st.WakeupsPerSec = float64(wake1[name]-wake0[name]) / window.Seconds()
		st.GCCycles = a.gcCycles(pid)
		res.Processes = append(res.Processes, st)
		res.Total.add(st)
	}
	res.Total.Name = "total"
	res.Total.GCCycles = -1
	return res, nil
}

// lowGC names the processes that have not yet completed o.minGC cycles.
func (a *agentRun) lowGC(procs map[string]int) string {
	var low []string
	for _, name := range sortedNames(procs) {
		n := a.gcCycles(procs[name])
		if n < 0 && time.Since(a.started) > silentAfter {
			continue // does not report (not built with the SDK, or the variable did not reach it)
		}
		if n < int64(a.o.minGC) {
			low = append(low, fmt.Sprintf("%s %d", name, max(n, 0)))
		}
	}
	return strings.Join(low, ", ")
}

// silentAfter: Go forces a GC cycle every 2 minutes, so a process that
// reports its cycles has done so by then; one that has not, never will.
const silentAfter = 150 * time.Second

// gcCycles reads what the process reported through sdk.GCStatsEnv; -1 if
// it has not reported (yet).
func (a *agentRun) gcCycles(pid int) int64 {
	b, err := os.ReadFile(filepath.Join(a.gcDir, strconv.Itoa(pid)))
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// readStatus reads VmRSS, RssAnon, RssFile and Threads of pid.
func readStatus(pid int) (IdleProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return IdleProcStat{}, err
	}
	return parseStatus(b), nil
}

func parseStatus(b []byte) IdleProcStat {
	f := procFields(b)
	return IdleProcStat{VmRSSKiB: f["VmRSS"], RssAnonKiB: f["RssAnon"], RssFileKiB: f["RssFile"], Threads: int(f["Threads"])}
}

// wakeups sums voluntary_ctxt_switches over every thread of each process.
func wakeups(procs map[string]int) map[string]int64 {
	out := map[string]int64{}
	for name, pid := range procs {
		if n, err := sumTasks(pid, "status", voluntarySwitches); err == nil {
			out[name] = n
		}
	}
	return out
}

func voluntarySwitches(status []byte) int64 { return procFields(status)["voluntary_ctxt_switches"] }

func printIdle(w io.Writer, r *IdleResult) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\nidle, no clients: after %.0f s, over %.0f s; installed %.1f MiB (bin/towerd + plugins)\n",
		r.AfterSeconds, r.WindowSeconds, float64(r.InstalledBytes)/(1<<20))
	if r.Note != "" {
		fmt.Fprintln(w, "note:", r.Note)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "process\tVmRSS MiB\tRssAnon MiB\tRssFile MiB\tthreads\tCPU ms\tCPU ms/90s\twakeups/s\tGC cycles\t\n")
	for _, p := range append(append([]IdleProcStat{}, r.Processes...), r.Total) {
		gc := strconv.FormatInt(p.GCCycles, 10)
		if p.GCCycles < 0 {
			gc = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.2f\t%s\t\n", p.Name, mib(p.VmRSSKiB), mib(p.RssAnonKiB), mib(p.RssFileKiB),
			p.Threads, p.CPUMillis, p.CPUMillisPer90s, p.WakeupsPerSec, gc)
	}
	tw.Flush()
}

// installedBytes is the size of the towerd binary and every plugin
// executable in dir.
func installedBytes(towerd, dir string) int64 {
	var n int64
	if fi, err := os.Stat(towerd); err == nil {
		n += fi.Size()
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			n += fi.Size()
		}
	}
	return n
}

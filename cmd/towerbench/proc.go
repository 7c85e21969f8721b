package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ProcStat is one process's memory (from /proc/PID/smaps_rollup, in KiB)
// and its CPU time over the measuring window.
type ProcStat struct {
	Name      string `json:"name"`
	PID       int    `json:"pid,omitempty"`
	RSSKiB    int64  `json:"rss_kib"`
	PSSKiB    int64  `json:"pss_kib"`
	AnonKiB   int64  `json:"anon_kib"`
	FileKiB   int64  `json:"rss_file_kib"`
	BinaryKiB int64  `json:"binary_kib,omitempty"`
	Threads   int    `json:"threads,omitempty"`
	// CPUSeconds is from schedstat (ns); CPUTickSeconds from utime+stime.
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUTickSeconds float64 `json:"cpu_tick_seconds"`
	CPUPercent     float64 `json:"cpu_percent_of_one_core"`
}

func (t *ProcStat) add(s ProcStat) {
	t.RSSKiB += s.RSSKiB
	t.PSSKiB += s.PSSKiB
	t.AnonKiB += s.AnonKiB
	t.FileKiB += s.FileKiB
	t.BinaryKiB += s.BinaryKiB
	t.Threads += s.Threads
	t.CPUSeconds += s.CPUSeconds
	t.CPUTickSeconds += s.CPUTickSeconds
}

// readMem reads the memory of pid. Rss is VmRSS; Anonymous is its
// anonymous part (heap, stacks), the rest is file pages: mostly the
// binary's own text and data.
func readMem(pid int) (ProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return ProcStat{}, err
	}
	st := parseRollup(b)
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			st.BinaryKiB = fi.Size() / 1024
		}
	}
	if tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil {
		st.Threads = len(tasks)
	}
	return st, nil
}

func parseRollup(b []byte) ProcStat {
	f := procFields(b)
	return ProcStat{RSSKiB: f["Rss"], PSSKiB: f["Pss"], AnonKiB: f["Anonymous"], FileKiB: f["Rss"] - f["Anonymous"]}
}

// procFields reads the "Key: value ..." lines of a /proc file such as
// status or smaps_rollup: key without its colon → value (kB where the file
// gives a unit). Lines without such a value are skipped.
func procFields(b []byte) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			out[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; it is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns utime+stime of pid (all its threads, living and ended).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

func parseStatCPU(b []byte) (time.Duration, error) {
	// The command name may hold spaces and parentheses; fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: bad utime/stime %q %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// threadsCPU sums the run time of pid's live threads from
// /proc/PID/task/*/schedstat (nanoseconds, far finer than the 10 ms ticks
// of /proc/PID/stat; threads that ended are missing, and Go rarely ends
// threads).
func threadsCPU(pid int) (time.Duration, error) {
	ns, err := sumTasks(pid, "schedstat", func(b []byte) int64 {
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		return ns
	})
	return time.Duration(ns), err
}

// sumTasks adds up value of /proc/PID/task/*/file over pid's live threads.
func sumTasks(pid int, file string, value func([]byte) int64) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/%s", pid, t.Name(), file))
		if err != nil {
			continue // the thread ended meanwhile
		}
		sum += value(b)
	}
	return sum, nil
}

// cpuSample is the CPU time of each process at one moment, by two sources.
type cpuSample struct{ ticks, sched map[string]time.Duration }

func cpuTimes(procs map[string]int) cpuSample {
	s := cpuSample{ticks: map[string]time.Duration{}, sched: map[string]time.Duration{}}
	for n, pid := range procs {
		d, err := procCPU(pid)
		if err != nil {
			d = -1 << 50 // makes a vanished process obvious in the table
		}
		s.ticks[n] = d
		if d, err = threadsCPU(pid); err != nil {
			d = -1 << 50
		}
		s.sched[n] = d
	}
	return s
}

// hostTimes is the first line of /proc/stat, for how busy the machine was.
type hostTimes struct{ busy, total int64 }

func hostCPU() hostTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostTimes{}
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	var h hostTimes
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		if i >= 8 { // guest times are already in user
			break
		}
		h.total += v
		if i != 3 && i != 4 { // idle, iowait
			h.busy += v
		}
	}
	return h
}

// busySince is the machine's busy share, in percent of all its CPUs.
func (h hostTimes) busySince(prev hostTimes) float64 {
	if h.total <= prev.total {
		return 0
	}
	return 100 * float64(h.busy-prev.busy) / float64(h.total-prev.total)
}

func load1() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func numCPU() int { return runtime.NumCPU() }

package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// The readers are checked against this test's own process and a child
// that burns CPU: real /proc, no fixtures.
func TestReadMemOfSelf(t *testing.T) {
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = 1
	}
	st, err := readMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.AnonKiB < 32<<10 || st.RSSKiB < st.AnonKiB || st.PSSKiB <= 0 || st.BinaryKiB <= 0 || st.Threads < 1 {
		t.Errorf("implausible memory of a process holding 32 MiB: %+v", st)
	}
	if st.FileKiB != st.RSSKiB-st.AnonKiB {
		t.Errorf("file %d != rss %d - anon %d", st.FileKiB, st.RSSKiB, st.AnonKiB)
	}
	_ = buf[len(buf)-1]
}

func TestCPUOfBusyChild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	deadline := time.Now().Add(20 * time.Second)
	for {
		ticks, err1 := procCPU(pid)
		sched, err2 := threadsCPU(pid)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if ticks >= 200*time.Millisecond && sched >= 200*time.Millisecond {
			// Both sources count the same CPU time, to a few ticks.
			if d := ticks - sched; d > 100*time.Millisecond || d < -100*time.Millisecond {
				t.Errorf("stat says %v, schedstat says %v", ticks, sched)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("busy child used only %v (stat) / %v (schedstat) in 20s", ticks, sched)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParseStatCommWithParens(t *testing.T) {
	line := []byte("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1\n")
	d, err := parseStatCPU(line)
	if err != nil || d != 3*time.Second {
		t.Fatalf("got %v, %v; want 3s", d, err)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(i + 1)
	}
	for _, c := range []struct{ p, want float64 }{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(v, c.p); got != c.want {
			t.Errorf("p%.0f = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty input")
	}
}

func TestIntervalStats(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []event{
		{Topic: "x_update", Stamp: t0},
		{Topic: "x_update", Stamp: t0.Add(5010 * time.Millisecond)},
		{Topic: "x_update", Stamp: t0.Add(9990 * time.Millisecond)},
		{Topic: "other", Stamp: t0.Add(time.Second)},
	}
	got := intervalStats(evs, map[string]string{"x": "x_update"}, map[string]time.Duration{"x_update": 5 * time.Second})
	if len(got) != 1 || got[0].Count != 2 || got[0].Min != 4.98 || got[0].Max != 5.01 || int(got[0].SpreadMS+0.5) != 30 {
		t.Fatalf("got %+v", got)
	}
}

// The idle table's figures come from the real /proc of a child that
// sleeps in a loop: each sleep is a voluntary context switch.
func TestStatusAndWakeupsOfSleepingChild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do sleep 0.01; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	procs := map[string]int{"child": cmd.Process.Pid}
	w0 := wakeups(procs)["child"]
	deadline := time.Now().Add(20 * time.Second)
	for wakeups(procs)["child"] < w0+5 {
		if time.Now().After(deadline) {
			t.Fatal("a shell sleeping in a loop made no voluntary context switches in 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := readStatus(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.VmRSSKiB <= 0 || st.RssAnonKiB <= 0 || st.RssFileKiB <= 0 || st.Threads != 1 ||
		st.RssAnonKiB+st.RssFileKiB > st.VmRSSKiB {
		t.Errorf("implausible status of a shell: %+v", st)
	}
}

func TestInstalledBytesCountsExecutablesOnly(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"a": 0o755, "b": 0o755, "README.md": 0o644} {
		if err := os.WriteFile(dir+"/"+name, make([]byte, 1000), mode); err != nil {
			t.Fatal(err)
		}
	}
	if got := installedBytes(dir+"/a", dir); got != 3000 {
		t.Errorf("installed = %d, want 3000 (towerd + two plugins, not the README)", got)
	}
}

package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCollect20Containers measures what the issue asks for: collect time
// with 20 running containers and the plugin's resident memory after a few
// collects. It fails if a collect takes more than 5 s (half the interval).
func TestCollect20Containers(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20 containers")
	}
	needEngine(t)
	p := startPlugin(t, eng.host)
	for range 3 {
		collect(t, p)
	}
	t.Logf("idle RSS (no containers of ours): %s", vmRSS(t, p.Pid()))

	pre := "tw-m-" + eng.run + "-"
	for i := range 20 {
		eng.create(t, spec{name: fmt.Sprintf("%s%02d", pre, i), state: "running"})
	}
	var worst time.Duration
	for i := range 4 {
		start := time.Now()
		got := collect(t, p)
		d := time.Since(start)
		n := 0
		for name, c := range got {
			if strings.HasPrefix(name, pre) && c.MemoryLimitBytes > 0 {
				n++
			}
		}
		if n != 20 {
			t.Fatalf("collect %d: %d of 20 containers with stats", i, n)
		}
		t.Logf("collect %d with 20 running containers: %v", i, d)
		worst = max(worst, d)
	}
	t.Logf("RSS after collects with 20 containers: %s", vmRSS(t, p.Pid()))
	if worst > 5*time.Second {
		t.Errorf("slowest collect %v, want under 5s", worst)
	}
}

func vmRSS(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

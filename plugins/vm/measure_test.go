package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestIdleRSSAndCollectTime logs the plugin's resident memory after a few
// collects and the collect time, and bounds both.
func TestIdleRSSAndCollectTime(t *testing.T) {
	uri, _ := fixture(t)
	p := start(t, binaries(t)["dlopen"], uri)
	var worst time.Duration
	for range 5 {
		t0 := time.Now()
		list(t, p)
		worst = max(worst, time.Since(t0))
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	var rss string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			rss = strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	t.Logf("vm plugin (dlopen build) RSS after 5 collects: %s; slowest collect %v", rss, worst)
	var kb int
	if _, err := fmt.Sscanf(rss, "%d kB", &kb); err != nil || kb > 64<<10 {
		t.Errorf("RSS %q, want under 64 MiB", rss)
	}
	if worst > 2*time.Second {
		t.Errorf("collect took %v", worst)
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// TestSteadyStateMemory measures the bundle as `make build` builds it
// (lean tags, no cgo): every collector configured on the fixture and
// collected 30 times, then the process's RSS and anonymous memory. The
// freshness issue's target is 10 MB RSS and 3 MB anonymous per process;
// a single-collector plugin (array) measures about 10.6 MB / 4.0 MB
// the same way today, so the test guards against the bundle growing past
// that baseline (14 MB / 6 MB) and logs the figures.
//
//	go test -run TestSteadyStateMemory -v ./plugins/unraid/ ./plugins/zfs/
func TestSteadyStateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the lean binary")
	}
	MeasureBundle(t, ".", unraidtest.FixtureRoot(t))
}

// MeasureBundle builds pkg with the Makefile's plugin flags, collects every
// collector 30 times and logs and checks the memory.
func MeasureBundle(t *testing.T, pkg, root string) {
	abs, _ := filepath.Abs(pkg)
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-tags", "towerd_plugin,grpcnotrace", "-o", bin, ".")
	cmd.Dir, cmd.Env = abs, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := p.DescribeBundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Collectors {
		if err := p.Configure(ctx, sdk.Config{Collector: c.Name, Root: root}); err != nil {
			t.Fatal(err)
		}
	}
	for range 30 {
		for _, c := range b.Collectors {
			if _, _, err := p.Collect(ctx, c.Name); err != nil {
				t.Fatalf("Collect %s: %v", c.Name, err)
			}
		}
	}
	rss, anon := statusKB(t, p.Pid(), "VmRSS:"), statusKB(t, p.Pid(), "RssAnon:")
	t.Logf("%s bundle (%d collectors), after 30 rounds: RSS %d kB, anonymous %d kB", b.Name, len(b.Collectors), rss, anon)
	if rss > 14*1024 || anon > 6*1024 {
		t.Errorf("RSS %d kB, anonymous %d kB: more than 14 MB / 6 MB, well past a single-collector plugin", rss, anon)
	}
}

func statusKB(t *testing.T, pid int, key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			var n int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, key)), "%d", &n)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

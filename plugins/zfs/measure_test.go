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

// TestSteadyStateMemory measures the bundle as `make build` builds it; see
// the test of the same name in plugins/unraid for the figures it guards.
//
//	go test -run TestSteadyStateMemory -v ./plugins/zfs/
func TestSteadyStateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the lean binary")
	}
	bin := filepath.Join(t.TempDir(), "zfs")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-tags", "towerd_plugin,grpcnotrace", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
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
	root := unraidtest.FixtureRoot(t)
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
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	kb := map[string]int{}
	for _, l := range strings.Split(string(st), "\n") {
		var n int
		if k, v, ok := strings.Cut(l, ":"); ok && (k == "VmRSS" || k == "RssAnon") {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			kb[k] = n
		}
	}
	t.Logf("zfs bundle (%d collectors), after 30 rounds: RSS %d kB, anonymous %d kB", len(b.Collectors), kb["VmRSS"], kb["RssAnon"])
	if kb["VmRSS"] > 14*1024 || kb["RssAnon"] > 6*1024 {
		t.Errorf("RSS %d kB, anonymous %d kB: more than 14 MB / 6 MB", kb["VmRSS"], kb["RssAnon"])
	}
}

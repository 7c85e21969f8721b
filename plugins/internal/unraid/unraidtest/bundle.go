package unraidtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// CheckBundle is the shared part of the bundle plugins' process tests:
// it builds the bundle in pkg, runs towerd's contract checks on every
// collector, then starts it, checks the bundle's name and each collector's
// topic against topics (collector name -> topic), configures each on root
// and collects it once. It returns the running process, its description
// and the payloads by collector, for the caller's own checks.
func CheckBundle(t *testing.T, pkg, name, root string, topics map[string]string) (*plugintest.Plugin, sdk.Bundle, map[string][]byte) {
	t.Helper()
	bin := plugintest.Build(t, pkg)
	// towerd's own contract checks, for every collector of the bundle.
	res := plugintest.Check(t, bin, plugintest.Contract{Config: sdk.Config{Root: FixtureRoot(t)}})
	if len(res.PayloadsOf) != len(topics) {
		t.Fatalf("Check collected %d collectors, want %d", len(res.PayloadsOf), len(topics))
	}
	p := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := p.DescribeBundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != name || len(b.Collectors) != len(topics) {
		t.Fatalf("bundle %q with %d collectors: %+v", b.Name, len(b.Collectors), b.Collectors)
	}
	payloads := map[string][]byte{}
	for _, info := range b.Collectors {
		if topics[info.Name] != info.Topic {
			t.Errorf("collector %s has topic %q, want %q", info.Name, info.Topic, topics[info.Name])
		}
		if err := plugintest.CheckInfo(info, info.Name); err != nil {
			t.Errorf("collector %s: %v", info.Name, err)
		}
		if err := p.Configure(ctx, sdk.Config{Collector: info.Name, Root: root}); err != nil {
			t.Fatalf("Configure %s: %v", info.Name, err)
		}
		topic, payload, err := p.Collect(ctx, info.Name)
		if err != nil || topic != info.Topic {
			t.Fatalf("Collect %s: %q %v", info.Name, topic, err)
		}
		if err := plugintest.CheckPayload(payload); err != nil {
			t.Errorf("%s payload: %v\n%s", info.Name, err, payload)
		}
		payloads[info.Name] = payload
	}
	return p, b, payloads
}

// MeasureBundle builds the bundle in pkg as `make build` builds it (lean
// tags, no cgo), configures every collector on root, collects each 30
// times, then logs the process's RSS and anonymous memory and fails past
// 14 MB / 6 MB. The freshness issue's target is 10 MB RSS and 3 MB
// anonymous per process; a single-collector plugin (array) measures about
// 10.6 MB / 4.0 MB the same way, so the bound guards against a bundle
// growing well past that baseline.
func MeasureBundle(t *testing.T, pkg, root string) {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
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

// statusKB reads one "<key> <n> kB" line of /proc/<pid>/status.
func statusKB(t *testing.T, pid int, key string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			var n int
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &n)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// CollectJSON collects c in process with a deadline, checks the payload
// against the contract (plugintest.CheckPayload) and decodes it into out
// (a pointer), if not nil: plugintest's Plugin.CollectJSON for a collector
// of a bundle tested without its process.
func CollectJSON(t testing.TB, c sdk.Collector, out any) []byte {
	t.Helper()
	name := c.Describe().Name
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := c.Collect(ctx)
	if err != nil {
		t.Fatalf("Collect %s: %v", name, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := plugintest.CheckPayload(b); err != nil {
		t.Fatalf("%s payload: %v\n%s", name, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode: %v\n%s", err, b)
		}
	}
	return b
}

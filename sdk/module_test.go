package sdk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/sdk/plugintest"
)

// A third-party plugin in a module of its own, requiring only the SDK (with
// the documented replace, as before a release is tagged), builds offline
// from the module cache, and its dependency graph holds none of the host's
// heavy modules (Docker, libvirt, Chromium): the SDK is its own module.
func TestSeparateModuleNeedsOnlyTheSDK(t *testing.T) {
	t.Parallel()
	sdkDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.26.8\n\n" +
			"require github.com/towerd/towerd/sdk v0.0.0\n\n" +
			"replace github.com/towerd/towerd/sdk => " + sdkDir + "\n",
		"main.go": `package main

import (
	"context"
	"time"

	"github.com/towerd/towerd/sdk"
)

type hello struct{}

func (hello) Describe() sdk.Info {
	return sdk.Info{Name: "hello", Version: "0.1.0", Topic: "hello_update", DefaultInterval: 30 * time.Second}
}

func (hello) Collect(context.Context) (any, error) {
	return map[string]any{"hello": "world", "timestamp": time.Now().UTC()}, nil
}

func main() { sdk.Serve(hello{}) }
`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Offline: every module comes from the cache the SDK's own build filled;
	// -mod=mod lets go build write go.sum (from the cache, no checksum
	// database).
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "CGO_ENABLED=0")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("build", "-tags", "towerd_plugin,grpcnotrace", "-trimpath", "-ldflags", "-s -w", "-o", "hello", ".")
	mods := run("list", "-m", "all")
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, heavy := range []string{"moby", "docker", "libvirt", "chromedp", "kin-openapi", "prometheus", "gopsutil"} {
		if strings.Contains(mods, heavy) || strings.Contains(string(sum), heavy) {
			t.Errorf("a plugin of its own module pulls %s:\n%s", heavy, mods)
		}
	}
	if !strings.Contains(mods, "github.com/towerd/towerd/sdk v0.0.0 => "+sdkDir) {
		t.Errorf("go list -m all does not show the SDK replaced:\n%s", mods)
	}
	t.Logf("modules of a separate plugin module: %d", len(strings.Split(strings.TrimSpace(mods), "\n")))

	// And it is a working plugin: the contract checks pass.
	res := plugintest.Check(t, filepath.Join(dir, "hello"), plugintest.Contract{})
	if len(res.Payloads) == 0 || !strings.Contains(string(res.Payloads[0]), `"hello":"world"`) {
		t.Errorf("payloads %q", res.Payloads)
	}
}

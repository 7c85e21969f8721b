package sdk_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// hostModule is towerd's module, which holds the SDK's directory: the
// built-in plugins these tests build live there.
const hostModule = ".."

// buildLean builds the network plugin the way `make build` builds
// plugins: with the towerd_plugin tag, no cgo.
func buildLean(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "network")
	cmd := exec.Command("go", "build", "-tags", "towerd_plugin,grpcnotrace", "-o", out,
		"github.com/towerd/towerd/plugins/network")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = hostModule
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// A plugin built lean is served by sdk.Serve without go-plugin, and the
// real go-plugin client (the one the core uses) completes the handshake,
// calls it, and shuts it down gracefully: the socket directory is gone.
func TestLeanServeSpeaksGoPluginProtocol(t *testing.T) {
	t.Parallel()
	bin := buildLean(t)
	sockDir := t.TempDir()
	p, err := plugintest.Launch(bin, "PLUGIN_UNIX_SOCKET_DIR="+sockDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := p.Describe(ctx)
	if err != nil || info.Name != "network" || info.Topic != "network_list_update" {
		t.Fatalf("describe: %+v, %v", info, err)
	}
	// A plugin error travels as a gRPC status and comes back as the
	// sentinel it wrapped.
	err = p.Configure(ctx, sdk.Config{Root: "/", Options: map[string]string{"exclude": "["}})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("configure with a bad pattern: %v, want ErrInvalidArgument", err)
	}
	if err := p.Configure(ctx, sdk.Config{Root: "/", Options: map[string]string{"exclude": ""}}); err != nil {
		t.Fatal(err)
	}
	topic, payload, err := p.Collect(ctx, "")
	if err != nil || topic != "network_list_update" || !strings.Contains(string(payload), `"name":"lo"`) {
		t.Fatalf("collect: %s %s %v", topic, payload, err)
	}
	if _, err := p.Act(ctx, sdk.Action{Name: "reboot"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("act on a collector without actions: %v, want ErrUnsupported", err)
	}
	entries, _ := os.ReadDir(sockDir)
	if len(entries) != 1 {
		t.Fatalf("socket dir holds %d entries while running, want 1", len(entries))
	}
	pid := p.Pid()
	start := time.Now()
	p.Kill() // GRPCController.Shutdown, then up to 2 s for the process to exit
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("plugin took %v to stop after Shutdown: it was killed, not shut down", took)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("plugin process %d still alive after Kill", pid)
	}
	if entries, _ := os.ReadDir(sockDir); len(entries) != 0 {
		t.Errorf("socket dir not cleaned up after shutdown: %v", entries)
	}
}

// Run by hand, a plugin says what it is and exits 1.
func TestServeRefusesToRunWithoutCookie(t *testing.T) {
	t.Parallel()
	bin := buildLean(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "towerd plugin") {
		t.Fatalf("want exit 1 and an explanation, got %v: %s", err, out)
	}
}

// Plugins built as `make build` builds them link no go-plugin, net/rpc or
// yamux: that is what keeps each plugin process small.
func TestLeanPluginsLinkNoHostMachinery(t *testing.T) {
	t.Parallel()
	list := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`,
		"github.com/towerd/towerd/plugins/...")
	list.Dir = hostModule
	mains, err := list.Output()
	if err != nil || len(strings.Fields(string(mains))) == 0 {
		t.Fatalf("go list plugins: %v %s", err, mains)
	}
	args := append([]string{"list", "-deps", "-tags", "towerd_plugin,grpcnotrace"}, strings.Fields(string(mains))...)
	deps := exec.Command("go", args...)
	deps.Dir = hostModule
	out, err := deps.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "github.com/hashicorp/go-plugin"), pkg == "net/rpc",
			strings.HasPrefix(pkg, "github.com/hashicorp/yamux"), pkg == "golang.org/x/net/trace":
			t.Errorf("plugins link %s", pkg)
		}
	}
}

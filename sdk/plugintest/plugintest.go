// Package plugintest runs a towerd plugin binary through the real go-plugin
// handshake so a test can call Describe, Configure, Collect and Act on it
// exactly as the core does, and check its payloads against the contract.
// Third-party plugin authors use it from their own go test.
package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/towerd/towerd/sdk"
)

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
)

// Build compiles a Go main package once per test binary and returns the
// path of the executable. pkg is an import path of the current module, or a
// directory ("." for the package under test; absolute or relative to the
// test's working directory), which is built inside the module that holds it
// (the nearest go.mod above it): the module under test, or a separate one
// such as an out-of-tree plugin.
// The executable is named after the last element of pkg (the directory's
// name for "." and other relative paths) unless name is given; towerd
// requires it to equal the name the plugin describes itself with.
func Build(t testing.TB, pkg string, name ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "|" + strings.Join(name, "")
	if p, ok := buildCache[key]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "towerd-plugintest-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Base(pkg)
	cmd := exec.Command("go", "build", "-o", "", pkg)
	if isLocalPath(pkg) {
		abs, err := filepath.Abs(pkg)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Base(abs)
		if mod := moduleDir(abs); mod != "" {
			rel, err := filepath.Rel(mod, abs)
			if err != nil {
				t.Fatal(err)
			}
			cmd = exec.Command("go", "build", "-o", "", "./"+filepath.ToSlash(rel))
			cmd.Dir = mod
		}
	}
	if len(name) > 0 {
		bin = name[0]
	}
	out := filepath.Join(dir, bin)
	cmd.Args[3] = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	buildCache[key] = out
	return out
}

// moduleDir returns the nearest directory at or above dir holding a
// go.mod, or "".
func moduleDir(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// isLocalPath reports whether pkg names a directory rather than an import
// path, following the go command's rule: it is absolute or starts with "."
func isLocalPath(pkg string) bool {
	return filepath.IsAbs(pkg) || pkg == "." || pkg == ".." ||
		strings.HasPrefix(pkg, "./") || strings.HasPrefix(pkg, "../")
}

// Plugin is a running plugin process.
type Plugin struct {
	*sdk.Client
	client *plugin.Client
}

// Start launches the plugin at path with the extra environment variables
// (KEY=VALUE) and completes the handshake. The process is killed when the
// test ends.
func Start(t testing.TB, path string, env ...string) *Plugin {
	t.Helper()
	p, err := Launch(path, env...)
	if err != nil {
		t.Fatalf("start plugin %s: %v", path, err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Launch is Start without a testing.TB; the caller must Kill the plugin.
func Launch(path string, env ...string) (p *Plugin, err error) {
	err = retryBusy(func() error {
		p, err = launch(path, env...)
		return err
	})
	return p, err
}

// retryBusy runs start again while it fails with ETXTBSY: a binary a test
// has just copied can still be open for writing in a child that another
// goroutine is forking at that moment, and exec refuses it briefly (the Go
// toolchain retries the same way).
func retryBusy(start func() error) error {
	for i := 0; ; i++ {
		err := start()
		if i == 50 || err == nil || !(errors.Is(err, syscall.ETXTBSY) || strings.Contains(err.Error(), "text file busy")) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func launch(path string, env ...string) (*Plugin, error) {
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), env...)
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginMap(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: filepath.Base(path), Level: hclog.Warn, Output: os.Stderr}),
		StartTimeout:     10 * time.Second,
		SkipHostEnv:      true, // cmd.Env already has it, and env must win over it
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		c.Kill()
		return nil, err
	}
	return &Plugin{Client: raw.(*sdk.Client), client: c}, nil
}

// Kill stops the plugin process.
func (p *Plugin) Kill() { p.client.Kill() }

// Pid is the plugin's process ID.
func (p *Plugin) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// CollectJSON calls Collect with a deadline, checks the payload against the
// contract (CheckPayload) and decodes it into out (a pointer), if not nil.
func (p *Plugin) CollectJSON(t testing.TB, out any) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	info, err := p.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	topic, payload, err := p.Collect(ctx, "")
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if topic != info.Topic {
		t.Fatalf("Collect returned topic %q, Describe said %q", topic, info.Topic)
	}
	if err := CheckPayload(payload); err != nil {
		t.Fatalf("payload breaks the contract: %v\n%s", err, payload)
	}
	if out != nil {
		if err := json.Unmarshal(payload, out); err != nil {
			t.Fatalf("decode payload: %v\n%s", err, payload)
		}
	}
	return payload
}

// CheckPayload verifies a payload is a JSON object with a timestamp, or an
// array (possibly empty) of such objects.
func CheckPayload(payload []byte) error {
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	switch x := v.(type) {
	case map[string]any:
		return checkTimestamp(x)
	case []any:
		for i, item := range x {
			obj, ok := item.(map[string]any)
			if !ok {
				return fmt.Errorf("item %d is not an object", i)
			}
			if err := checkTimestamp(obj); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("payload is %T, want an object or an array", v)
	}
}

func checkTimestamp(obj map[string]any) error {
	s, ok := obj["timestamp"].(string)
	if !ok {
		return fmt.Errorf("no \"timestamp\" string")
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q is not RFC 3339: %w", s, err)
	}
	if ts.IsZero() || ts.Year() < 2000 {
		return fmt.Errorf("timestamp %q is not set", s)
	}
	return nil
}

// Package coretest runs a real towerd for end-to-end tests: it builds the
// towerd binary and plugins, lays out a plugins directory, starts towerd on
// a free loopback port, and offers REST and WebSocket clients that poll with
// deadlines instead of sleeping. Every test that needs a whole agent uses
// it, so there is one copy of this machinery.
//
// Typical use:
//
//	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system")})
//	ws := a.Dial(t)
//	ev := ws.WaitTopic(t, "system_update", 5*time.Second)
package coretest

import (
	"encoding/json"

	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk/plugintest"
)

// RepoRoot is the repository's top directory, found from this file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FixtureCopy returns a private copy of the repository's fixture Unraid
// tree (testdata/unraid), for an agent that writes to its root or a test
// that adds files.
func FixtureCopy(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "unraid")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(RepoRoot(), "testdata", "unraid"))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Towerd builds bin/towerd once per test binary and returns its path.
func Towerd(t testing.TB) string {
	return plugintest.Build(t, "github.com/towerd/towerd/cmd/towerd")
}

// Plugins builds the named built-in plugins (plugins/<name>) and returns
// name → binary path, for Options.Plugins.
func Plugins(t testing.TB, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = plugintest.Build(t, "github.com/towerd/towerd/plugins/"+n)
	}
	return out
}

// TestPlugins returns the misbehaving test plugin (core/internal/testplugin)
// under each of names; its mode comes from the name (see that package).
func TestPlugins(t testing.TB, names ...string) map[string]string {
	bin := plugintest.Build(t, "github.com/towerd/towerd/core/internal/testplugin")
	out := map[string]string{}
	for _, n := range names {
		out[n] = bin
	}
	return out
}

// Merge joins plugin maps.
func Merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Options for Start.
type Options struct {
	// Plugins to install: file name in plugins.d → binary to copy there.
	Plugins map[string]string
	// Config is written to the settings file before start (JSON), unless
	// empty. ConfigPath reuses an existing file (for restart tests).
	Config     string
	ConfigPath string
	// Root is --root; empty means the repository's fixture tree if it
	// exists, else a fresh empty directory.
	Root string
	// Args are extra flags; Env extra environment (KEY=VALUE).
	Args []string
	Env  []string
}

// Agent is a running towerd process.
type Agent struct {
	URL        string // http://127.0.0.1:PORT
	Addr       string // 127.0.0.1:PORT
	Dir        string // scratch directory
	PluginsDir string
	ConfigPath string
	Root       string
	opts       Options
	cmd        *exec.Cmd
	log        *plugintest.SyncBuffer
	exited     chan struct{}
}

// Start launches towerd and waits until /api/v1/health answers. It is
// stopped (SIGTERM) when the test ends.
func Start(t testing.TB, opts Options) *Agent {
	t.Helper()
	dir := t.TempDir()
	a := &Agent{Dir: dir, PluginsDir: filepath.Join(dir, "plugins.d"), opts: opts}
	if err := os.MkdirAll(a.PluginsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, bin := range opts.Plugins {
		if err := copyFile(bin, filepath.Join(a.PluginsDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	a.ConfigPath = opts.ConfigPath
	if a.ConfigPath == "" {
		a.ConfigPath = filepath.Join(dir, "config", "towerd.json")
	}
	if opts.Config != "" {
		_ = os.MkdirAll(filepath.Dir(a.ConfigPath), 0o755)
		if err := os.WriteFile(a.ConfigPath, []byte(opts.Config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a.Root = opts.Root
	if a.Root == "" {
		a.Root = filepath.Join(dir, "root")
		_ = os.MkdirAll(a.Root, 0o755)
	}
	a.start(t)
	t.Cleanup(func() { a.Stop(t) })
	return a
}

func (a *Agent) start(t testing.TB) {
	t.Helper()
	port := FreePort(t)
	a.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	a.URL = "http://" + a.Addr
	args := append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--plugins-dir", a.PluginsDir, "--config", a.ConfigPath, "--root", a.Root,
		"--log-level", "debug",
	}, a.opts.Args...)
	a.cmd = exec.Command(Towerd(t), args...)
	a.cmd.Env = append(os.Environ(), a.opts.Env...)
	a.log = &plugintest.SyncBuffer{}
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.exited = make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(a.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(a.URL + "/api/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-a.exited:
			t.Fatalf("towerd exited during start:\n%s", a.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("towerd did not answer /api/v1/health within 15s:\n%s", a.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits up to 10 s for towerd to exit; it then
// checks that no plugin process of this agent is left behind.
func (a *Agent) Stop(t testing.TB) {
	t.Helper()
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(10 * time.Second):
			_ = a.cmd.Process.Kill()
			<-a.exited
			t.Errorf("towerd did not stop within 10s of SIGTERM:\n%s", a.Log())
		}
	}
	a.cmd = nil
	if left := a.PluginProcesses(); len(left) > 0 {
		t.Errorf("plugin processes left after towerd stopped: %v", left)
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Restart stops towerd and starts it again with the same plugins, config
// file and root, on a new port.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	a.Stop(t)
	a.start(t)
}

// Exited reports whether the towerd process has ended.
func (a *Agent) Exited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// Log returns everything towerd has logged so far.
func (a *Agent) Log() string { return a.log.String() }

// PID is towerd's process ID.
func (a *Agent) PID() int { return a.cmd.Process.Pid }

// PluginProcesses lists live (non-zombie) processes whose executable lies
// in this agent's plugins directory.
func (a *Agent) PluginProcesses() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || !strings.HasPrefix(exe, a.PluginsDir+"/") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// Do sends a request with an optional JSON body and returns the status
// and body.
func (a *Agent) Do(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	req := a.Request(t, method, path, body)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return Send(t, req)
}

// Request builds a request to path on the agent with an optional body,
// for a caller that sets its own headers before Send.
func (a *Agent) Request(t testing.TB, method, path, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Send sends a request built by the caller (odd headers, no length) and
// returns the status and body; a failed round trip fails the test.
func Send(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// GetJSON GETs path, requires 200 and decodes the body into out.
func (a *Agent) GetJSON(t testing.TB, path string, out any) {
	t.Helper()
	code, b := a.Do(t, http.MethodGet, path, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, code, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// Collector is the part of GET /api/v1/collectors/{name} tests look at.
type Collector struct {
	Name            string `json:"name"`
	Enabled         bool   `json:"enabled"`
	IntervalSeconds int    `json:"interval_seconds"`
	Status          string `json:"status"`
	Topic           string `json:"topic"`
	Version         string `json:"version"`
	PID             int    `json:"pid"`
	Restarts        int    `json:"restarts"`
	ErrorCount      int    `json:"error_count"`
	LastError       string `json:"last_error"`
}

// Collector fetches one collector's state.
func (a *Agent) Collector(t testing.TB, name string) Collector {
	t.Helper()
	var body struct {
		Collector Collector `json:"collector"`
	}
	a.GetJSON(t, "/api/v1/collectors/"+name, &body)
	return body.Collector
}

// WaitCollector polls until cond holds for the named collector.
func (a *Agent) WaitCollector(t testing.TB, name string, timeout time.Duration, cond func(Collector) bool) Collector {
	t.Helper()
	var c Collector
	plugintest.Eventually(t, timeout, func() bool {
		c = a.Collector(t, name)
		return cond(c)
	}, "collector %s never reached the expected state; last: %+v\nlog:\n%s", name, &c, a)
	return c
}

// String makes the agent print its log in failure messages.
func (a *Agent) String() string { return a.Log() }

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

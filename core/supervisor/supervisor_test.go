package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

// install copies binaries into a fresh plugins directory under the given
// names.
func install(t *testing.T, plugins map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range plugins {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dir
}

func testPlugin(t *testing.T) string {
	return plugintest.Build(t, "github.com/towerd/towerd/core/internal/testplugin")
}

func waitState(t *testing.T, s *Supervisor, name string, st State) Status {
	t.Helper()
	var got Status
	plugintest.Eventually(t, 15*time.Second, func() bool {
		got, _ = s.Status(name)
		return got.State == st
	}, "%s never reached %s: %+v", name, st, &got)
	return got
}

// The contract round trip with a real built-in plugin: start, Describe,
// Configure, Collect, and stop with no process left.
func TestContractRoundTrip(t *testing.T) {
	dir := install(t, map[string]string{
		"system": plugintest.Build(t, "github.com/towerd/towerd/plugins/system"),
		"echo":   testPlugin(t),
	})
	ready := make(chan string, 4)
	s := New(Options{Dir: dir, OnReady: func(name string, _ sdk.Info) { ready <- name }})
	defer s.StopAll()
	for _, n := range []string{"system", "echo"} {
		if err := s.Start(n, sdk.Config{Root: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	st := waitState(t, s, "system", Running)
	if st.Info.Topic != schema.TopicSystem || st.Info.Version == "" || st.PID == 0 {
		t.Errorf("system status %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic, payload, err := s.Collect(ctx, "system")
	if err != nil || topic != schema.TopicSystem {
		t.Fatalf("collect: %q %v", topic, err)
	}
	var sys schema.System
	if err := json.Unmarshal(payload, &sys); err != nil || sys.Hostname == "" || sys.RAMTotalBytes == 0 || sys.CPUThreads == 0 {
		t.Errorf("system payload %s (%v)", payload, err)
	}
	if err := plugintest.CheckPayload(payload); err != nil {
		t.Error(err)
	}

	waitState(t, s, "echo", Running)
	msg, err := s.Act(ctx, "echo", sdk.Action{Name: "start", Target: "abc"})
	if err != nil || msg != "start abc ok" {
		t.Errorf("act: %q %v", msg, err)
	}
	if _, err := s.Act(ctx, "echo", sdk.Action{Name: "start", Target: "missing"}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("act on a missing target: %v, want ErrNotFound", err)
	}
	if _, err := s.Act(ctx, "echo", sdk.Action{Name: "explode"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("undeclared action: %v, want ErrUnsupported", err)
	}

	pid := st.PID
	s.Stop("system")
	if st, _ := s.Status("system"); st.State != Stopped || st.PID != 0 {
		t.Errorf("after stop: %+v", st)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("plugin process %d still alive after Stop", pid)
	}
	if _, _, err := s.Collect(ctx, "system"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("collect after stop: %v", err)
	}
}

func TestCrashRestartsWithBackoffAndFails(t *testing.T) {
	dir := install(t, map[string]string{"exit": testPlugin(t), "crashn": testPlugin(t)})
	s := New(Options{Dir: dir, BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, FailedAfter: 3})
	defer s.StopAll()
	_ = s.Start("exit", sdk.Config{})
	st := waitState(t, s, "exit", Failed)
	if !strings.Contains(st.LastError, "exiting at once on purpose") {
		t.Errorf("last error %q", st.LastError)
	}

	// crashn dies on its 2nd collect: one restart, then running again.
	_ = s.Start("crashn", sdk.Config{Options: map[string]string{"crash_at": "2"}})
	first := waitState(t, s, "crashn", Running)
	ctx := context.Background()
	if _, _, err := s.Collect(ctx, "crashn"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Collect(ctx, "crashn"); err == nil {
		t.Fatal("collect that crashes the plugin succeeded")
	}
	var st2 Status
	plugintest.Eventually(t, 10*time.Second, func() bool {
		st2, _ = s.Status("crashn")
		return st2.State == Running && st2.PID != first.PID
	}, "crashed plugin not restarted: %+v", &st2)
	if st2.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", st2.Restarts)
	}
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	s := New(Options{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, FailedAfter: 6})
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"system": 0o755, "README.md": 0o644, "SHA256SUMS": 0o644, ".hidden": 0o755,
		"notexec": 0o644, "Bad Name": 0o755, "my-plugin_2": 0o755,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Mkdir(filepath.Join(dir, "subdir"), 0o755)
	names, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "my-plugin_2,system" {
		t.Errorf("Discover = %v", names)
	}
	if _, err := Discover(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}

package supervisor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	return !strings.HasPrefix(s[strings.LastIndexByte(s, ')')+2:], "Z")
}

// within runs f and fails the test if it takes longer than limit (without
// waiting for it: a hang must not hang the test binary).
func within(t *testing.T, limit time.Duration, what string, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("%s took longer than %v", what, limit)
		return 0
	}
}

// Issue 13 item 1: one plugin's slow Configure (an enable of a running
// collector) holds no supervisor-wide lock: status reads answer at once and
// another plugin's collect keeps its deadline and is not killed.
// Before: Start held the supervisor lock across Configure; GET /collectors
// blocked for the whole Configure and others' collects were killed with
// "did not return within its deadline (0s)".
func TestSlowConfigureBlocksNoOtherPlugin(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "slowconf", "echo")
	s := newSup(t, Options{Dir: dir})
	_ = s.Start("slowconf", sdk.Config{})
	_ = s.Start("echo", sdk.Config{})
	waitUntil(t, s, "slowconf", running)
	echo := waitUntil(t, s, "echo", running)

	reconfigured := make(chan struct{})
	go func() {
		defer close(reconfigured)
		_ = s.Start("slowconf", sdk.Config{Options: map[string]string{"conf_delay_ms": "3000"}})
	}()
	// Check over and over while the 3 s Configure is in flight.
	rounds := 0
	for busy := true; busy; rounds++ {
		within(t, time.Second, "Statuses during another plugin's Configure", func() { s.Statuses() })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		took := within(t, 1500*time.Millisecond, "collect of another plugin", func() {
			if _, _, err := s.Collect(ctx, "echo"); err != nil {
				t.Errorf("echo collect during slowconf's Configure: %v", err)
			}
		})
		cancel()
		if took > time.Second {
			t.Errorf("echo collect took %v while another plugin's 3 s Configure ran", took)
		}
		select {
		case <-reconfigured:
			busy = false
		default:
		}
	}
	if rounds < 5 {
		t.Errorf("only %d rounds overlapped the Configure", rounds)
	}
	<-reconfigured
	if st, _ := s.Status("echo"); st.PID != echo.PID || st.Restarts != 0 {
		t.Errorf("echo was restarted: %+v", st)
	}
}

// Issue 13 item 1: a collect whose deadline passed before the core could
// send it is skipped, and the plugin is not blamed or killed.
func TestLateCollectIsNotBlamed(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "echo")
	s := newSup(t, Options{Dir: dir})
	_ = s.Start("echo", sdk.Config{})
	first := waitUntil(t, s, "echo", running)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, _, err := s.Collect(ctx, "echo")
	if err == nil || !strings.Contains(err.Error(), "not blamed") {
		t.Errorf("late collect: %v", err)
	}
	st, _ := s.Status("echo")
	if st.State != Running || st.PID != first.PID || st.Restarts != 0 || strings.Contains(st.LastError, "deadline") {
		t.Errorf("plugin blamed for the core's lateness: %+v", st)
	}
}

// Issue 13 item 7: a collect that overruns shows as an overrun (not
// running, last_error naming the deadline) as soon as the deadline passes,
// and the plugin is restarted.
func TestOverrunShownAtTheDeadline(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "hang")
	s := newSup(t, Options{Dir: dir})
	_ = s.Start("hang", sdk.Config{})
	first := waitUntil(t, s, "hang", running)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sent := time.Now()
	go func() { _, _, _ = s.Collect(ctx, "hang") }()
	st := waitUntil(t, s, "hang", func(st Status) bool { return st.State != Running || st.PID != first.PID })
	if lag := time.Since(sent); lag > 1500*time.Millisecond {
		t.Errorf("overrun shown %v after the collect was sent with a 1 s deadline", lag)
	}
	if !strings.Contains(st.LastError, "deadline") {
		t.Errorf("state %s, last error %q", st.State, st.LastError)
	}
	waitUntil(t, s, "hang", func(st Status) bool { return st.State == Running && st.PID != first.PID })
}

// Issue 13 item 2: a frozen (SIGSTOPped) plugin is stopped within the
// grace period plus a little: SIGKILL of its process group. A start
// requested while it is being stopped does not run a second process
// beside it. Before: Stop (disable, SIGTERM) hung forever in go-plugin's
// Shutdown call.
func TestFrozenPluginStopIsBounded(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "echo")
	s := newSup(t, Options{Dir: dir, StopGrace: time.Second})
	_ = s.Start("echo", sdk.Config{})
	first := waitUntil(t, s, "echo", running)
	if err := syscall.Kill(first.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	took := within(t, 4*time.Second, "Stop of a frozen plugin", func() { s.Stop("echo") })
	t.Logf("stop of a SIGSTOPped plugin: %v", took.Round(time.Millisecond))
	if alive(first.PID) {
		t.Errorf("frozen plugin %d still alive after Stop", first.PID)
	}

	// Freeze the new one, then stop and start at once: the second process
	// starts only when the first is gone.
	_ = s.Start("echo", sdk.Config{})
	second := waitUntil(t, s, "echo", func(st Status) bool { return st.State == Running && st.PID != first.PID })
	if err := syscall.Kill(second.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { s.Stop("echo"); close(stopped) }()
	plugintest.Eventually(t, 5*time.Second, func() bool { return s.procFor("echo").currentLife() == nil }, "stop not begun")
	if !alive(second.PID) {
		t.Fatal("the frozen process is gone already; the test does not overlap the stop")
	}
	if err := s.Start("echo", sdk.Config{}); err != nil {
		t.Fatal(err)
	}
	third := waitUntil(t, s, "echo", func(st Status) bool { return st.State == Running && st.PID != second.PID && st.PID != 0 })
	if alive(second.PID) {
		t.Errorf("new process %d runs beside the frozen one %d", third.PID, second.PID)
	}
	<-stopped
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// processesWithArg lists live processes whose command line has arg.
func processesWithArg(arg string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == arg && alive(pid) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// Issue 13 item 3: a plugin whose child keeps stdout/stderr open is
// restarted at once after kill -9, and its child dies with it (process
// group); a script that never completes the handshake fails at the start
// timeout and leaves nothing behind. Before: "restarting" for ~100 s as a
// zombie; "starting" with pid 0 past the start timeout.
func TestChildHoldingPipesBlocksNothing(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, "github.com/towerd/towerd/core/internal/testplugin")
	real := filepath.Join(t.TempDir(), "echo1")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, b, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "plugins.d")
	_ = os.Mkdir(dir, 0o755)
	marker := strconv.Itoa(400000 + os.Getpid()%100000)
	writeScript(t, filepath.Join(dir, "echo1"), "sleep "+marker+" &\nexec "+real+"\n")
	writeScript(t, filepath.Join(dir, "silent"), "exec sleep "+marker+"1\n")

	s := newSup(t, Options{Dir: dir, StartTimeout: time.Second, BackoffMin: 50 * time.Millisecond})
	_ = s.Start("echo1", sdk.Config{})
	first := waitUntil(t, s, "echo1", running)
	if n := len(processesWithArg(marker)); n != 1 {
		t.Fatalf("%d children holding the pipes, want 1", n)
	}
	killed := time.Now()
	_ = syscall.Kill(first.PID, syscall.SIGKILL)
	waitUntil(t, s, "echo1", func(st Status) bool { return st.State == Running && st.PID != first.PID })
	if took := time.Since(killed); took > 3*time.Second {
		t.Errorf("restart after kill -9 took %v with a child holding the pipes", took)
	}
	plugintest.Eventually(t, 2*time.Second, func() bool { return len(processesWithArg(marker)) == 1 },
		"the dead plugin's child was not killed with it: %v", processesWithArg(marker))

	started := time.Now()
	_ = s.Start("silent", sdk.Config{})
	st := waitUntil(t, s, "silent", func(st Status) bool { return st.LastError != "" })
	if took := time.Since(started); took > 3*time.Second || !strings.Contains(st.LastError, "timeout") {
		t.Errorf("never-handshaking plugin: after %v, %+v", took, st)
	}
	plugintest.Eventually(t, 2*time.Second, func() bool { return len(processesWithArg(marker+"1")) == 0 },
		"the plugin that never handshook is still alive")
	within(t, 3*time.Second, "stopping everything", s.StopAll)
	if n := processesWithArg(marker); len(n) > 0 {
		t.Errorf("children left after StopAll: %v", n)
	}
}

// Issue 13 item 2/4: concurrent starts and stops of one plugin end in the
// last requested state, with at most one process at any time.
func TestConcurrentStartStopOneProcess(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "echo")
	s := newSup(t, Options{Dir: dir})
	done := make(chan struct{})
	var seen = map[int]bool{}
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			if i%2 == 0 {
				_ = s.Start("echo", sdk.Config{})
			} else {
				s.Stop("echo")
			}
		}
		_ = s.Start("echo", sdk.Config{})
	}()
	for {
		select {
		case <-done:
			st := waitUntil(t, s, "echo", running)
			if !alive(st.PID) {
				t.Errorf("running with a dead pid: %+v", st)
			}
			return
		default:
		}
		if st, _ := s.Status("echo"); st.PID > 0 {
			seen[st.PID] = true
		}
		live := 0
		for pid := range seen {
			if alive(pid) {
				live++
			}
		}
		if live > 1 {
			t.Fatalf("%d plugin processes alive at once", live)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

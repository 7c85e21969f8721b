package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
)

// A plugin answering just under its deadline is left alone; one answering
// just over it is killed, restarted and reported.
func TestSlowPluginsAroundTheDeadline(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "slow1", "slow2"),
		Config: `{"collectors":{
			"slow1":{"timeout_seconds":2,"options":{"delay_ms":"1400"}},
			"slow2":{"timeout_seconds":2,"options":{"delay_ms":"2600"}}}}`,
	})
	over := a.WaitCollector(t, "slow2", 20*time.Second, func(c coretest.Collector) bool { return c.Restarts >= 1 })
	if !strings.Contains(over.LastError, "deadline") {
		t.Errorf("slow2 last_error %q, want the deadline named", over.LastError)
	}
	plugintestEventually(t, 20*time.Second, func() bool {
		code, _ := a.Do(t, http.MethodGet, "/api/v1/collectors/slow1/data", "")
		return code == http.StatusOK
	}, "slow1 never delivered")
	under := a.Collector(t, "slow1")
	if under.Restarts != 0 || under.ErrorCount != 0 || under.Status != "running" {
		t.Errorf("slow1 (1.4 s of a 2 s deadline) = %+v, want running, no restarts, no errors", under)
	}
	var list struct {
		Collectors []coretest.Collector `json:"collectors"`
	}
	a.GetJSON(t, "/api/v1/collectors", &list)
	for _, c := range list.Collectors {
		if c.Name == "slow2" && (c.Restarts < 1 || c.LastError == "") {
			t.Errorf("GET /collectors does not report slow2's kill: %+v", c)
		}
	}
}

// A plugin whose memory grows past its limit is killed and restarted, and
// the list says why.
func TestLeakingPluginRestarted(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "leak"),
		Config:  `{"collectors":{"leak":{"memory_limit_mb":64,"options":{"leak_mb":"40"}}}}`,
	})
	first := a.WaitCollector(t, "leak", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	c := a.WaitCollector(t, "leak", 30*time.Second, func(c coretest.Collector) bool {
		return c.Restarts >= 1 && c.Status == "running" && c.PID != first.PID
	})
	if !strings.Contains(c.LastError, "memory limit exceeded") || !strings.Contains(c.LastError, "limit 64 MiB") {
		t.Errorf("last_error %q", c.LastError)
	}
	if st, ok := readProc(first.PID); ok {
		t.Errorf("leaking process %d still there (state %s)", first.PID, st.State)
	}
}

// A plugin that dies at start backs off, shows failed with its last error,
// costs no CPU while it waits for the capped retry, and is retried at once
// when enabled.
func TestCrashLoopBacksOffAndRetriesOnEnable(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "exit")})
	c := a.WaitCollector(t, "exit", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
	if !strings.Contains(c.LastError, "exiting at once on purpose") {
		t.Errorf("last_error %q", c.LastError)
	}
	path := recordStarts(t, a, "exit")
	cpu0, _ := readProc(a.PID())
	window := time.Now().Add(3 * time.Second)
	for time.Now().Before(window) { // observe a quiet window
		if n := countStarts(t, path); n > 0 {
			t.Fatalf("failed plugin started %d times within 3 s of failing (cap is 30 s)", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cpu1, _ := readProc(a.PID())
	if used := cpu1.CPU - cpu0.CPU; used > 300*time.Millisecond {
		t.Errorf("core used %v CPU in 3 s while a plugin is failed: a busy loop", used)
	}
	mustOK(t, a, http.MethodPost, "/api/v1/collectors/exit/enable", "")
	plugintestEventually(t, 3*time.Second, func() bool { return countStarts(t, path) > 0 }, "enable did not retry the failed plugin")
	if z := zombies(a.PID()); len(z) > 0 {
		t.Errorf("zombies: %v", z)
	}
}

// SIGTERM stops every plugin, hung ones included, within 5 s and leaves no
// orphan or zombie; started again, towerd has the same settings.
func TestSIGTERMStopsAllAndRestartKeepsSettings(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, "system"), coretest.TestPlugins(t, "echo1", "echo2", "hang", "slow")),
		Config: `{"collectors":{"hang":{"timeout_seconds":60},"slow":{"timeout_seconds":60,"options":{"delay_ms":"50000"}},
			"echo2":{"enabled":false},"echo1":{"interval_seconds":7}}}`,
	})
	for _, n := range []string{"system", "echo1", "hang", "slow"} {
		a.WaitCollector(t, n, 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	}
	pids := a.PluginProcesses()
	if len(pids) != 4 {
		t.Fatalf("plugin processes %v, want 4", pids)
	}
	sent := time.Now()
	if err := syscall.Kill(a.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	plugintestEventually(t, 5*time.Second, a.Exited, "towerd still running 5 s after SIGTERM")
	took := time.Since(sent)
	for _, pid := range pids {
		if st, ok := readProc(pid); ok {
			t.Errorf("plugin %d left behind after SIGTERM (state %s)", pid, st.State)
		}
	}
	t.Logf("SIGTERM → exit with 2 plugins mid-collect: %v", took.Round(time.Millisecond))
	if !strings.Contains(a.Log(), "stopped") {
		t.Errorf("no orderly stop in the log:\n%s", a)
	}

	a.Restart(t)
	if c := a.WaitCollector(t, "echo1", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" }); c.IntervalSeconds != 7 {
		t.Errorf("echo1 interval %d after restart, want 7", c.IntervalSeconds)
	}
	if c := a.Collector(t, "echo2"); c.Enabled || c.Status != "disabled" {
		t.Errorf("echo2 after restart: %+v, want disabled", c)
	}
	a.WaitCollector(t, "hang", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
}

// A corrupt settings file: without a last-good copy towerd refuses to
// start and says which file and what is wrong; with one it runs on the
// last good settings and logs the problem.
func TestCorruptConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "towerd.json")
	if err := os.WriteFile(bad, []byte("{\n  \"collectors\": {\n    \"echo1\": {\"enabled\": fal"), 0o600); err != nil {
		t.Fatal(err)
	}
	plugins := filepath.Join(dir, "plugins.d")
	_ = os.Mkdir(plugins, 0o755)
	cmd := exec.Command(coretest.Towerd(t), "--bind", "127.0.0.1", "--port", "0", "--config", bad, "--plugins-dir", plugins)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("towerd with a corrupt config: %v\n%s", err, out)
	}
	if msg := string(out); !strings.Contains(msg, bad) || !strings.Contains(msg, "line 3") || !strings.Contains(msg, "no towerd.json.last-good") {
		t.Errorf("error does not name the file, the line and the missing fallback:\n%s", msg)
	}

	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "echo1", "echo2"),
		Config:  `{"collectors":{"echo2":{"enabled":false},"echo1":{"interval_seconds":9}}}`,
	})
	a.WaitCollector(t, "echo1", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	a.Stop(t)
	if err := os.WriteFile(a.ConfigPath, []byte(`{"collectors":{"echo2":{"enabled":tr`), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Restart(t)
	if c := a.WaitCollector(t, "echo1", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" }); c.IntervalSeconds != 9 {
		t.Errorf("echo1 interval %d, want the last good 9", c.IntervalSeconds)
	}
	if c := a.Collector(t, "echo2"); c.Enabled {
		t.Errorf("echo2 enabled; the last good settings disable it")
	}
	if log := a.Log(); !strings.Contains(log, "settings file is corrupt; running on the last good copy") || !strings.Contains(log, a.ConfigPath) {
		t.Errorf("log does not report the corrupt file:\n%s", log)
	}
}

package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// install copies the test plugin into a fresh plugins directory under
// each name and returns the directory.
func installTestPlugins(t *testing.T, names ...string) string {
	t.Helper()
	bin := plugintest.Build(t, "github.com/towerd/towerd/core/internal/testplugin")
	dir := filepath.Join(t.TempDir(), "plugins.d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		in, err := os.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dir, n), os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(out, in)
		in.Close()
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newSup(t *testing.T, opts Options) *Supervisor {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.StopAll)
	return s
}

func waitUntil(t *testing.T, s *Supervisor, name string, cond func(Status) bool) Status {
	t.Helper()
	var st Status
	plugintest.Eventually(t, 15*time.Second, func() bool {
		st, _ = s.Status(name)
		return cond(st)
	}, "plugin %s never reached the expected state; last %+v", name, &st)
	return st
}

func running(st Status) bool { return st.State == Running }

// Files an unprivileged user could replace are refused at once with a
// reason that says how to fix them; fixed and retried, they run.
func TestRefusesUnsafeFiles(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := installTestPlugins(t, "echo1", "echo2", "echo3")
	if err := os.Chmod(filepath.Join(dir, "echo1"), 0o757); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "echo2"), 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "echo3"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	s := newSup(t, Options{Dir: dir})
	want := map[string]string{"echo1": "writable by group or others (mode 0757", "echo2": "mode 0775", "echo3": "owned by uid 65534, not by root"}
	for name := range want {
		if err := s.Start(name, sdk.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, msg := range want {
		st := waitUntil(t, s, name, func(st Status) bool { return st.State == Failed })
		if !strings.Contains(st.LastError, msg) || st.PID != 0 {
			t.Errorf("%s: last error %q, want %q", name, st.LastError, msg)
		}
	}
	// Fixed, then enabled again: retried at once, not after the 30 s backoff.
	_ = os.Chmod(filepath.Join(dir, "echo1"), 0o755)
	if err := s.Start("echo1", sdk.Config{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	waitUntil(t, s, "echo1", running)
	if time.Now().After(deadline) {
		t.Errorf("retry after the fix took too long")
	}

	// A world-writable plugins directory refuses everything in it.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s.Stop("echo1")
	if err := s.Start("echo1", sdk.Config{}); err != nil {
		t.Fatal(err)
	}
	st := waitUntil(t, s, "echo1", func(st Status) bool { return st.State == Failed })
	if !strings.Contains(st.LastError, "plugins directory") {
		t.Errorf("world-writable dir: %q", st.LastError)
	}
}

// With a SHA256SUMS file only listed plugins with a matching checksum run.
func TestChecksums(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "echo1", "echo2", "echo3")
	b, err := os.ReadFile(filepath.Join(dir, "echo1"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	wrong := sha256.Sum256([]byte("something else"))
	sums := hex.EncodeToString(sum[:]) + "  echo1\n" + hex.EncodeToString(wrong[:]) + " *echo2\n# comment\n"
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSup(t, Options{Dir: dir})
	for _, n := range []string{"echo1", "echo2", "echo3"} {
		if err := s.Start(n, sdk.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, s, "echo1", running)
	st := waitUntil(t, s, "echo2", func(st Status) bool { return st.State == Failed })
	if !strings.Contains(st.LastError, "does not match its checksum in SHA256SUMS") {
		t.Errorf("echo2: %q", st.LastError)
	}
	st = waitUntil(t, s, "echo3", func(st Status) bool { return st.State == Failed })
	if !strings.Contains(st.LastError, "echo3 is not listed in") {
		t.Errorf("echo3: %q", st.LastError)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := s.Collect(ctx, "echo1"); err != nil {
		t.Errorf("verified plugin collect: %v", err)
	}
}

// starts reads the start times the test plugin recorded.
func starts(t *testing.T, file string) []time.Time {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, l := range strings.Fields(string(b)) {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, time.Unix(0, n))
	}
	return out
}

// A plugin that dies at start is retried with doubling delays, then marked
// failed with its last error and retried only at the cap; enabling it
// again retries at once. It never busy-loops.
func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "exit")
	startsFile := filepath.Join(dir, "exit.starts")
	if err := os.WriteFile(startsFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSup(t, Options{Dir: dir, BackoffMin: 50 * time.Millisecond, BackoffMax: 2 * time.Second, FailedAfter: 4})
	if err := s.Start("exit", sdk.Config{}); err != nil {
		t.Fatal(err)
	}
	st := waitUntil(t, s, "exit", func(st Status) bool { return st.State == Failed })
	if !strings.Contains(st.LastError, "exiting at once on purpose") {
		t.Errorf("last error %q does not carry the plugin's own words", st.LastError)
	}
	// Two attempts at the cap.
	plugintest.Eventually(t, 10*time.Second, func() bool { return len(starts(t, startsFile)) >= 6 }, "no retries at the cap")
	ts := starts(t, startsFile)
	for i := 1; i < len(ts); i++ {
		gap := ts[i].Sub(ts[i-1])
		var want time.Duration
		switch {
		case i < 4:
			want = 50 * time.Millisecond << (i - 1) // 50, 100, 200 ms
		default:
			want = 2 * time.Second
		}
		if gap < want*9/10 {
			t.Errorf("start %d came %v after the one before, want ≥ %v", i, gap, want)
		}
	}
	// Enable again: retried now, not at the cap.
	before := len(starts(t, startsFile))
	asked := time.Now()
	if err := s.Start("exit", sdk.Config{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(starts(t, startsFile)) > before }, "enable did not retry")
	if ts := starts(t, startsFile); ts[before].Sub(asked) > time.Second {
		t.Errorf("retry on enable came %v after the request", ts[before].Sub(asked))
	}
}

// A plugin whose memory grows over its limit is killed after a collect and
// restarted, with the reason as its last error.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "leak")
	s := newSup(t, Options{Dir: dir, MemoryLimitFor: func(string) int64 { return 64 << 20 }})
	if err := s.Start("leak", sdk.Config{Options: map[string]string{"leak_mb": "24"}}); err != nil {
		t.Fatal(err)
	}
	first := waitUntil(t, s, "leak", running)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	collects := 0
	for ; collects <= 10; collects++ {
		_, _, err := s.Collect(ctx, "leak")
		if errors.Is(err, ErrNotRunning) && collects > 0 {
			break // killed after the collect before
		}
		if err != nil {
			t.Fatalf("collect %d: %v", collects+1, err)
		}
	}
	st := waitUntil(t, s, "leak", func(st Status) bool { return st.State == Running && st.PID > 0 && st.PID != first.PID })
	if !strings.Contains(st.LastError, "memory limit exceeded") || !strings.Contains(st.LastError, "limit 64 MiB") {
		t.Errorf("last error %q; first %+v now %+v", st.LastError, first, st)
	}
	if collects < 2 || collects > 4 {
		t.Errorf("killed after %d collects of 24 MiB with a 64 MiB limit, want 2-4", collects)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(first.PID)); err == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(first.PID) + "/status"); !strings.Contains(string(b), "State:\tZ") {
			t.Errorf("killed plugin %d still exists", first.PID)
		} else {
			t.Errorf("killed plugin %d is a zombie", first.PID)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tleak\nVmPeak:\t  100 kB\nVmRSS:\t   51234 kB\nThreads:\t5\n"
	if n, ok := ParseVmRSS([]byte(status)); !ok || n != 51234<<10 {
		t.Errorf("ParseVmRSS = %d %v", n, ok)
	}
	for _, bad := range []string{"", "VmRSS:\t12 MB\n", "VmRSS: x kB", "VmRSS: -5 kB"} {
		if _, ok := ParseVmRSS([]byte(bad)); ok {
			t.Errorf("ParseVmRSS(%q) accepted", bad)
		}
	}
}

func FuzzParseVmRSS(f *testing.F) {
	f.Add([]byte("Name:\tx\nVmRSS:\t 1024 kB\n"))
	f.Add([]byte("VmRSS:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, ok := ParseVmRSS(b); ok && n < 0 {
			t.Fatalf("negative RSS %d", n)
		}
	})
}

func FuzzParseSums(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32) + "  system\n" + strings.Repeat("0", 64) + " *docker\n"))
	f.Add([]byte("# x\n\nzz  y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, err := ParseSums(b)
		if err != nil {
			return
		}
		for name, sum := range sums {
			if len(sum) != sha256.Size || name == "" || strings.Contains(name, "/") {
				t.Fatalf("entry %q %x", name, sum)
			}
		}
	})
}

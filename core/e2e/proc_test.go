package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// procStat is what the fault tests read of a process from /proc.
type procStat struct {
	State string
	PPid  int
	CPU   time.Duration // user + system
	RSS   int64         // bytes
}

// readProc reads /proc/<pid>/stat and status; ok is false if it is gone.
func readProc(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var st procStat
	st.State = f[0]
	st.PPid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPU = time.Duration(ut+stt) * (time.Second / 100) // USER_HZ is 100 on Linux
	if rss := strings.Fields(statusField(pid, "VmRSS")); len(rss) > 0 {
		kb, _ := strconv.ParseInt(rss[0], 10, 64)
		st.RSS = kb << 10
	}
	return st, true
}

// statusField reads one field of /proc/PID/status ("" if it is not there).
func statusField(pid int, field string) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// children lists the processes whose parent is pid, by state.
func children(pid int) map[int]string {
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProc(n); ok && st.PPid == pid {
			out[n] = st.State
		}
	}
	return out
}

// zombies lists pid's children that have exited but were not reaped.
func zombies(pid int) []int {
	var z []int
	for c, state := range children(pid) {
		if state == "Z" {
			z = append(z, c)
		}
	}
	return z
}

// countStarts returns how many times the test plugin at path has started
// since its .starts file was created.
func countStarts(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path + ".starts")
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(string(b)))
}

func recordStarts(t *testing.T, a *coretest.Agent, name string) string {
	t.Helper()
	path := filepath.Join(a.PluginsDir, name)
	if err := os.WriteFile(path+".starts", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func plugintestEventually(t *testing.T, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	plugintest.Eventually(t, timeout, cond, "%s", msg)
}

package supervisor

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/towerd/towerd/sdk"
)

// KillLeftovers kills plugin processes that an earlier core left behind
// (one killed with -9 before plugins died with it, or a build without
// Pdeathsig), so a new core never runs a second set beside them. It
// returns the PIDs it killed.
//
// A process is a leftover only if all of these hold, so nothing else on
// the machine can match: its environment carries towerd's magic cookie
// (only the core sets it, and only on plugins); its executable, or the
// script it runs, lies in dir, this core's plugins directory; and it is an
// orphan — its parent is PID 1 (or the subreaper that adopted it), not a
// towerd core. A plugin of another core that is alive, even one using the
// same directory, has that core as its parent and is left alone. Its whole
// process group is killed, taking any children with it.
func KillLeftovers(dir string) []int {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	cookie := []byte(sdk.MagicCookieKey + "=" + sdk.MagicCookieValue)
	self := os.Getpid()
	var killed []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !hasEnvEntry(env, cookie) || !runsFrom(pid, abs) {
			continue
		}
		ppid, pgid, ok := parentAndGroup(pid)
		if !ok || ppid == self || isCore(ppid) {
			continue
		}
		if pgid == pid {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		killed = append(killed, pid)
	}
	return killed
}

func hasEnvEntry(environ, entry []byte) bool {
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if bytes.Equal(kv, entry) {
			return true
		}
	}
	return false
}

// runsFrom reports whether pid's executable or its first script argument
// (an interpreter running a plugin script) lies in dir.
func runsFrom(pid int, dir string) bool {
	p := "/proc/" + strconv.Itoa(pid)
	if exe, err := os.Readlink(p + "/exe"); err == nil && inDir(strings.TrimSuffix(exe, " (deleted)"), dir) {
		return true
	}
	cmdline, _ := os.ReadFile(p + "/cmdline")
	args := bytes.Split(cmdline, []byte{0})
	for i := 0; i < len(args) && i < 2; i++ {
		if inDir(string(args[i]), dir) {
			return true
		}
	}
	return false
}

func inDir(path, dir string) bool {
	return filepath.IsAbs(path) && filepath.Dir(path) == dir
}

// parentAndGroup reads the parent PID and process group from /proc/PID/stat.
func parentAndGroup(pid int) (ppid, pgid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	return ppid, pgid, err1 == nil && err2 == nil
}

// isCore reports whether pid is a running towerd core (by its executable's
// name), whose plugins are not leftovers.
func isCore(pid int) bool {
	if pid <= 1 {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return false
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "towerd"
}

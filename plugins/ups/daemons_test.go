package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk/plugintest"
)

// Real daemons the tests start on loopback ports, from temp dirs. They run
// in the foreground as children of the test and are stopped at cleanup.

const (
	nutBin       = "/lib/nut"
	apcupsdBin   = "/opt/apcupsd/sbin/apcupsd"
	nutUPSName   = "dummy"
	daemonSettle = 15 * time.Second
)

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// daemonDir makes a temp dir the unprivileged daemon user can traverse.
func daemonDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startProc starts a foreground daemon and stops it (SIGTERM, then SIGKILL)
// when the test ends.
func startProc(t *testing.T, logPath string, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return cmd
}

// nutDaemon is a running upsd + dummy-ups (dummy-loop) pair.
type nutDaemon struct {
	port int
	dev  string // the .dev file dummy-ups re-reads
	dir  string
}

// setDev atomically replaces the .dev file the driver loops over.
func (n *nutDaemon) setDev(t *testing.T, content string) {
	t.Helper()
	tmp := n.dev + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, n.dev); err != nil {
		t.Fatal(err)
	}
}

// startNUT starts upsd on port (0 = pick one) serving one dummy-ups UPS
// named "dummy" that loops over a .dev file with the given content.
func startNUT(t *testing.T, port int, dev string) *nutDaemon {
	t.Helper()
	for _, b := range []string{"upsd", "dummy-ups"} {
		if _, err := os.Stat(filepath.Join(nutBin, b)); err != nil {
			plugintest.Unavailable(t, "NUT %s (%v); .ci/setup.d/60-ups.sh installs it", b, err)
		}
	}
	if port == 0 {
		port = freePort(t)
	}
	dir := daemonDir(t, "towerd-nut-")
	etc, state := filepath.Join(dir, "etc"), filepath.Join(dir, "state")
	for _, d := range []string{etc, state} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n := &nutDaemon{port: port, dev: filepath.Join(dir, "dev", "dummy.dev"), dir: dir}
	if err := os.Mkdir(filepath.Dir(n.dev), 0o755); err != nil {
		t.Fatal(err)
	}
	n.setDev(t, dev)
	files := map[string]string{
		"ups.conf": fmt.Sprintf("pollinterval = 1\n[%s]\n driver = dummy-ups\n port = %s\n desc = \"towerd test\"\n mode = dummy-loop\n",
			nutUPSName, n.dev),
		"upsd.conf":  fmt.Sprintf("LISTEN 127.0.0.1 %d\n", port),
		"upsd.users": "[monuser]\n password = secret\n upsmon primary\n",
		"nut.conf":   "MODE=standalone\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// As root the daemons drop to the "nut" user; give it the state dir and
	// read access to the config. Otherwise they run as the current user.
	runAs := "nut"
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nut")
		if err != nil {
			plugintest.Unavailable(t, "user nut: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for name := range files {
			_ = os.Chown(filepath.Join(etc, name), 0, gid)
		}
		_ = os.Chown(state, uid, gid)
		_ = os.Chmod(state, 0o770)
	} else {
		u, _ := user.Current()
		runAs = u.Username
	}
	env := []string{"NUT_CONFPATH=" + etc, "NUT_STATEPATH=" + state}
	startProc(t, filepath.Join(dir, "dummy-ups.log"), env,
		filepath.Join(nutBin, "dummy-ups"), "-F", "-a", nutUPSName, "-u", runAs)
	// upsd reconnects to a driver that appears late, so no wait is needed.
	startProc(t, filepath.Join(dir, "upsd.log"), env,
		filepath.Join(nutBin, "upsd"), "-F", "-u", runAs)
	return n
}

// apcDaemon is a running apcupsd with the test driver and its NIS server.
type apcDaemon struct{ port int }

// startAPC starts apcupsd (UPSTYPE test) serving NIS on a loopback port.
func startAPC(t *testing.T) *apcDaemon {
	t.Helper()
	if _, err := os.Stat(apcupsdBin); err != nil {
		plugintest.Unavailable(t, "apcupsd (%v); .ci/setup.d/60-ups.sh unpacks it", err)
	}
	port := freePort(t)
	dir := daemonDir(t, "towerd-apcupsd-")
	for _, d := range []string{"run", "lock", "scripts"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "apccontrol"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`## apcupsd.conf v1.1 ##
UPSNAME towerdapc
UPSCABLE smart
UPSTYPE test
DEVICE
LOCKFILE %[1]s/lock
SCRIPTDIR %[1]s/scripts
PWRFAILDIR %[1]s/run
NOLOGINDIR %[1]s/run
NETSERVER on
NISIP 127.0.0.1
NISPORT %[2]d
EVENTSFILE %[1]s/run/apcupsd.events
STATFILE %[1]s/run/apcupsd.status
LOGSTATS off
DATATIME 0
`, dir, port)
	cf := filepath.Join(dir, "apcupsd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProc(t, filepath.Join(dir, "apcupsd.log"), nil, apcupsdBin, "-b", "-f", cf, "-P", filepath.Join(dir, "run", "apcupsd.pid"))
	return &apcDaemon{port: port}
}

// hangingServer accepts connections and never answers, until the test ends.
func hangingServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

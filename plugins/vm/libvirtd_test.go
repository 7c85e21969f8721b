package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// startLibvirtd runs a private libvirtd (sockets, pidfile and log in dir)
// and stops it when the test ends. It returns the socket path.
func startLibvirtd(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("libvirtd")
	if err != nil {
		plugintest.Unavailable(t, "libvirtd not installed (apt-get install libvirt-daemon libvirt-daemon-system)")
	}
	if os.Geteuid() != 0 {
		plugintest.Unavailable(t, "libvirtd needs root")
	}
	conf := filepath.Join(dir, "libvirtd.conf")
	cfg := fmt.Sprintf("unix_sock_dir = %q\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n"+
		"log_outputs = \"3:file:%s\"\n", dir, filepath.Join(dir, "libvirtd.log"))
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", conf, "-p", filepath.Join(dir, "libvirtd.pid"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		plugintest.Unavailable(t, "start libvirtd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	sock := filepath.Join(dir, "libvirt-sock")
	plugintest.Eventually(t, 20*time.Second, func() bool {
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "libvirtd.log"))
			t.Fatalf("libvirtd exited:\n%s", b)
		default:
		}
		_, err := os.Stat(sock)
		return err == nil
	}, "libvirtd socket %s never appeared", sock)
	return sock
}

// TestLibvirtdOutageAndRecovery: the plugin points at a libvirtd socket
// before the daemon runs (empty list), picks the daemon up when it starts
// without a restart, lists the daemon's domains and runs actions through it;
// the daemon's own qemu:///system driver answers too.
func TestLibvirtdOutageAndRecovery(t *testing.T) {
	dir, err := os.MkdirTemp("", "twd-lvd-") // short: unix socket path limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "libvirt-sock")
	bin := binaries(t)["dlopen"]
	p := start(t, bin, "test+unix:///default?socket="+sock)
	for range 2 {
		if got := list(t, p); len(got) != 0 {
			t.Fatalf("no daemon: got %+v", got)
		}
	}
	startLibvirtd(t, dir)
	plugintest.Eventually(t, 15*time.Second, func() bool { _, ok := list(t, p)["test"]; return ok },
		"plugin did not pick libvirtd up")

	ctx := context.Background()
	for _, tc := range []struct{ action, want string }{
		{"pause", "paused"}, {"resume", "running"}, {"force-stop", "shut off"}, {"start", "running"},
	} {
		if _, err := p.Act(ctx, sdk.Action{Name: tc.action, Target: "test"}); err != nil {
			t.Fatalf("%s through libvirtd: %v", tc.action, err)
		}
		if got := list(t, p)["test"].State; got != tc.want {
			t.Fatalf("after %s: %q, want %q", tc.action, got, tc.want)
		}
	}

	q := start(t, bin, "qemu+unix:///system?socket="+sock)
	if got := list(t, q); len(got) != 0 {
		t.Errorf("qemu:///system on a fresh libvirtd: %+v", got)
	}
}

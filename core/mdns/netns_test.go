package mdns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/core/mdns"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// lab is two network namespaces of the test's own joined by a veth pair:
// the agent side A (dev mdA, 10.77.0.1) and the browser side B (dev mdB,
// 10.77.0.2). No host interface takes part.
type lab struct {
	a, b string
	dir  string
	bus  string // D-Bus address of side B's private system bus
}

func newLab(t *testing.T) *lab {
	t.Helper()
	for _, tool := range []string{"ip", "avahi-daemon", "avahi-browse", "dbus-daemon", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			plugintest.Unavailable(t, "%s is not installed (.ci/setup.d/85-avahi.sh)", tool)
		}
	}
	id := strconv.Itoa(os.Getpid())
	l := &lab{a: "tdmA" + id, b: "tdmB" + id, dir: t.TempDir()}
	if out, err := exec.Command("ip", "netns", "add", l.a).CombinedOutput(); err != nil {
		plugintest.Unavailable(t, "cannot create a network namespace (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.a).Run() })
	if out, err := exec.Command("ip", "netns", "add", l.b).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.b).Run() })
	for _, args := range [][]string{
		{"-n", l.a, "link", "add", "mdA", "type", "veth", "peer", "name", "mdB", "netns", l.b},
		{"-n", l.a, "addr", "add", "10.77.0.1/24", "dev", "mdA"},
		{"-n", l.b, "addr", "add", "10.77.0.2/24", "dev", "mdB"},
		{"-n", l.a, "link", "set", "lo", "up"},
		{"-n", l.b, "link", "set", "lo", "up"},
		{"-n", l.a, "link", "set", "mdA", "up"},
		{"-n", l.b, "link", "set", "mdB", "up"},
	} {
		l.ip(t, args...)
	}
	l.startBrowser(t)
	return l
}

func (l *lab) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v %s", args, err, out)
	}
}

// daemon runs a long-lived process until the test ends.
func daemon(t *testing.T, name string, env []string, args ...string) *plugintest.SyncBuffer {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out := &plugintest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
	return out
}

// startBrowser runs a private D-Bus system bus and an avahi-daemon that
// publishes nothing in side B, for avahi-browse. The daemon gets its own
// /run (a tmpfs in the mount namespace ip netns exec creates), so it never
// meets a host avahi-daemon's PID file.
func (l *lab) startBrowser(t *testing.T) {
	t.Helper()
	sock := filepath.Join(l.dir, "bus")
	l.bus = "unix:path=" + sock
	conf := filepath.Join(l.dir, "bus.conf")
	write(t, conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>`+l.bus+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`)
	daemon(t, "dbus-daemon", nil, "dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	plugintest.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }, "D-Bus socket %s never appeared", sock)
	aconf := filepath.Join(l.dir, "avahi-b.conf")
	write(t, aconf, "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=mdB\nenable-dbus=yes\nratelimit-burst=1000\n"+
		"[wide-area]\nenable-wide-area=no\n[publish]\ndisable-publishing=yes\n")
	log := daemon(t, "avahi-daemon (browser side)", []string{"DBUS_SYSTEM_BUS_ADDRESS=" + l.bus},
		"ip", "netns", "exec", l.b, "sh", "-c",
		"mount -t tmpfs tmpfs /run && mkdir -p /run/avahi-daemon && exec avahi-daemon -f "+aconf+" --no-drop-root --no-chroot --no-rlimits")
	plugintest.Eventually(t, 15*time.Second, func() bool { return strings.Contains(log.String(), "Server startup complete") },
		"avahi-daemon in %s did not start:\n%s", l.b, log)
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// found is one resolved line of avahi-browse -p.
type found struct {
	iface, name, host, addr string
	port                    int
	txt                     []string
}

// browse runs avahi-browse -rpt in side B and returns the resolved
// services of our type.
func (l *lab) browse(t *testing.T) []found {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.b, "avahi-browse", "-rpt", mdns.ServiceType)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+l.bus)
	out, err := cmd.Output()
	if err != nil && ctx.Err() == nil {
		t.Logf("avahi-browse: %v %s", err, out)
	}
	var res []found
	for _, line := range strings.Split(string(out), "\n") {
		// =;iface;proto;name;type;domain;host;addr;port;"txt" "txt"
		f := strings.SplitN(line, ";", 10)
		if len(f) != 10 || f[0] != "=" || f[4] != mdns.ServiceType {
			continue
		}
		port, _ := strconv.Atoi(f[8])
		res = append(res, found{iface: f[1], name: unescape(f[3]), host: f[6], addr: f[7], port: port, txt: parseTXT(f[9])})
	}
	return res
}

// unescape undoes avahi-browse -p's \DDD escapes.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s)+0 && i+3 <= len(s)-1+1 {
			if n, err := strconv.Atoi(s[i+1 : i+4]); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func parseTXT(s string) []string {
	var out []string
	for _, part := range strings.Split(s, "\" \"") {
		out = append(out, strings.Trim(part, "\""))
	}
	slices.Sort(out)
	return out
}

// agentIn runs the real towerd in side A with extra flags; it binds all
// interfaces on port 8043 (the namespace is the test's own).
// The returned stop sends SIGTERM and waits for the exit.
func (l *lab) agentIn(t *testing.T, args ...string) (stop func(), log *plugintest.SyncBuffer) {
	t.Helper()
	bin := coretest.Towerd(t)
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "plugins.d"), 0o755)
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.a, bin, "--port", "8043",
		"--plugins-dir", filepath.Join(dir, "plugins.d"), "--config", filepath.Join(dir, "towerd.json"),
		"--root", dir, "--log-level", "debug"}, args...)...)
	out := &plugintest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("towerd did not stop within 10 s of SIGTERM")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("towerd output:\n%s", out)
		}
	})
	return stop, out
}

func wantTXT() []string {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	txt := []string{"version=" + sdk.Version, "path=/api/v1", "name=" + host, "scheme=http"}
	slices.Sort(txt)
	return txt
}

// waitFound polls avahi-browse until a service named name resolves to
// addr with the exact TXT keys.
func (l *lab) waitFound(t *testing.T, name, addr string, agentLog fmt.Stringer) found {
	t.Helper()
	var got []found
	var hit found
	plugintest.Eventually(t, 30*time.Second, func() bool {
		got = l.browse(t)
		for _, f := range got {
			if f.name == name && f.addr == addr {
				hit = f
				return true
			}
		}
		return false
	}, "avahi-browse never resolved %q at %s; last: %+v\nagent:\n%s", name, addr, &got, agentLog)
	if hit.port != 8043 {
		t.Errorf("port %d, want 8043", hit.port)
	}
	if !slices.Equal(hit.txt, wantTXT()) {
		t.Errorf("TXT %q, want exactly %q", hit.txt, wantTXT())
	}
	return hit
}

func (l *lab) waitGone(t *testing.T, name string, why string) {
	t.Helper()
	var got []found
	plugintest.Eventually(t, 20*time.Second, func() bool {
		got = l.browse(t)
		return !slices.ContainsFunc(got, func(f found) bool { return f.name == name })
	}, "%q still browsable %s: %+v", name, why, &got)
}

// TestBuiltinResponderWithAvahiBrowse: towerd's own responder (no avahi on
// its side) is resolved by avahi-browse with the exact TXT keys, follows an
// address change, and says goodbye on SIGTERM.
func TestBuiltinResponderWithAvahiBrowse(t *testing.T) {
	l := newLab(t)
	stop, log := l.agentIn(t, "--mdns-mode", "builtin", "--mdns-name", "Tower Lab")
	l.waitFound(t, "Tower Lab", "10.77.0.1", log)

	// A new address is announced at once (a cached A record would otherwise
	// keep the old one for its TTL of two minutes).
	// (Deleting a primary address deletes its secondaries: delete first.)
	l.ip(t, "-n", l.a, "addr", "del", "10.77.0.1/24", "dev", "mdA")
	l.ip(t, "-n", l.a, "addr", "add", "10.77.0.9/24", "dev", "mdA")
	l.waitFound(t, "Tower Lab", "10.77.0.9", log)

	// Goodbye: without it avahi would keep the service for its 75 min TTL.
	start := time.Now()
	go stop()
	l.waitGone(t, "Tower Lab", "after towerd stopped (no goodbye?)")
	t.Logf("withdrawn %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(log.String(), "mDNS goodbye sent") {
		t.Errorf("no goodbye logged:\n%s", log)
	}
}

// agentAvahi runs an avahi-daemon on the agent's side, as on Unraid, and
// returns its /etc/avahi as seen from the host. ip netns exec mounts
// /etc/netns/NS/avahi over /etc/avahi for every process it starts in NS:
// avahi-daemon and towerd there share its services folder, and the host's
// /etc/avahi is untouched.
func (l *lab) agentAvahi(t *testing.T) string {
	t.Helper()
	etc := filepath.Join("/etc/netns", l.a, "avahi")
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Join("/etc/netns", l.a)) })
	write(t, filepath.Join(etc, "avahi-daemon.conf"), "[server]\nhost-name=towerlab\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=mdA\nenable-dbus=no\n"+
		"[wide-area]\nenable-wide-area=no\n[publish]\npublish-hinfo=no\npublish-workstation=no\n")
	if err := os.MkdirAll(filepath.Join(etc, "services"), 0o755); err != nil {
		t.Fatal(err)
	}
	alog := daemon(t, "avahi-daemon (agent side)", nil, "ip", "netns", "exec", l.a, "sh", "-c",
		"mount -t tmpfs tmpfs /run && mkdir -p /run/avahi-daemon && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits")
	plugintest.Eventually(t, 15*time.Second, func() bool { return strings.Contains(alog.String(), "Server startup complete") },
		"avahi-daemon in %s did not start:\n%s", l.a, alog)
	return etc
}

// TestBuiltinBesideAvahi measures the coexistence the builtin mode relies
// on: with avahi-daemon bound to 5353 on the same host, towerd's responder
// binds too and still receives the queries and answers them.
func TestBuiltinBesideAvahi(t *testing.T) {
	l := newLab(t)
	l.agentAvahi(t)
	_, log := l.agentIn(t, "--mdns-mode", "builtin", "--mdns-name", "Tower Beside", "--log-level", "trace")
	l.waitFound(t, "Tower Beside", "10.77.0.1", log)
	plugintest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "mDNS query answered") },
		"towerd's responder never saw a query beside avahi-daemon:\n%s", log)
}

// TestAvahiServiceFile: with avahi-daemon running on the agent's side,
// towerd hands it a service file, which avahi publishes; the file is gone
// after stop and avahi withdraws the service.
func TestAvahiServiceFile(t *testing.T) {
	l := newLab(t)
	etc := l.agentAvahi(t)
	stop, log := l.agentIn(t, "--mdns-mode", "avahi", "--mdns-name", "Tower Avahi")
	hit := l.waitFound(t, "Tower Avahi", "10.77.0.1", log)
	if hit.host != "towerlab.local" {
		t.Errorf("host %q, want avahi's own towerlab.local", hit.host)
	}
	file := filepath.Join(etc, "services", "towerd.service")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("service file: %v", err)
	}
	stop()
	l.waitGone(t, "Tower Avahi", "after towerd stopped")
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("service file left after stop: %v", err)
	}
}

// state reads, from inside side A, towerd's goroutine count and whether a
// UDP socket on 5353 exists in that namespace (towerd is its only process).
func (l *lab) state(t *testing.T) (goroutines int, udp5353 bool) {
	t.Helper()
	var body []byte
	plugintest.Eventually(t, 10*time.Second, func() bool {
		out, err := exec.Command("ip", "netns", "exec", l.a, "curl", "-sf", "http://127.0.0.1:8043/api/v1/debug/runtime").Output()
		body = out
		return err == nil
	}, "debug/runtime not answering in %s", l.a)
	var rt struct {
		Goroutines int `json:"goroutines"`
	}
	if err := json.Unmarshal(body, &rt); err != nil {
		t.Fatalf("debug/runtime: %v %s", err, body)
	}
	out, err := exec.Command("ip", "netns", "exec", l.a, "cat", "/proc/net/udp").Output()
	if err != nil {
		t.Fatal(err)
	}
	return rt.Goroutines, strings.Contains(string(out), ":14E9 ")
}

// Off, mDNS opens no socket and starts no goroutine (on a non-loopback
// address, where it would otherwise announce); the builtin responder costs
// one socket and three goroutines.
func TestOffCostsNothing(t *testing.T) {
	l := newLab(t)
	stop, log := l.agentIn(t, "--no-mdns", "--no-mcp", "--debug-runtime")
	gOff, sock := l.state(t)
	if sock {
		t.Errorf("UDP 5353 socket open with --no-mdns:\n%s", log)
	}
	if strings.Contains(log.String(), "mdns") {
		t.Errorf("mDNS mentioned in the log with --no-mdns:\n%s", log)
	}
	stop()

	stop, log = l.agentIn(t, "--mdns-mode", "builtin", "--no-mcp", "--debug-runtime")
	l.waitFound(t, hostnameShort(), "10.77.0.1", log)
	gOn, sock := l.state(t)
	if !sock {
		t.Errorf("no UDP 5353 socket with the builtin responder on")
	}
	if gOn-gOff != 3 {
		t.Errorf("goroutines: %d off, %d on; want exactly 3 more (read loop, announcer, netlink watch)", gOff, gOn)
	}
	stop()
}

func hostnameShort() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	return h
}

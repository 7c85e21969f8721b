package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("gone.json.last-good", `{"token":"secret",`)
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "Usage: towerd"},
		{[]string{"--version"}, 0, "towerd "},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--port", "99999", "--config", filepath.Join(dir, "c.json")}, 1, "--port"},
		{[]string{"--log-level", "loud"}, 1, "--log-level"},
		{[]string{"--interval-system", "1", "--config", filepath.Join(dir, "c.json")}, 1, "5 to 86400"},
		// 18446744079 s wraps to 5.29 s as a time.Duration: checked before multiplying.
		{[]string{"--interval-system", "18446744079", "--config", filepath.Join(dir, "c.json")}, 1, "--interval-system: 18446744079 is out of range"},
		{[]string{"--rate-limit", "NaN", "--config", filepath.Join(dir, "c.json"), "--plugins-dir", dir}, 1, "--rate-limit NaN"},
		{[]string{"--rate-limit", "1e300", "--config", filepath.Join(dir, "c.json"), "--plugins-dir", dir}, 1, "--rate-limit 1e+300"},
		{[]string{"--interval-system", "9223372036854775807", "--config", filepath.Join(dir, "c.json")}, 1, "out of range"},
		{[]string{"--config", write("interval.json", `{"collectors":{"system":{"interval_seconds":18446744074}}}`)}, 1,
			filepath.Join(dir, "interval.json") + ": collectors.system.interval_seconds: 18446744074 is out of range"},
		// A missing file beside a last-good copy that cannot be loaded: the
		// settings (maybe a token) existed; no start on defaults.
		{[]string{"--config", filepath.Join(dir, "gone.json")}, 1, "refusing to start on defaults"},
		{[]string{"--plugins-dir", filepath.Join(dir, "none"), "--config", filepath.Join(dir, "c.json")}, 1, "not a directory"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("towerd %v: exit %d, output %q; want exit %d containing %q",
				tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}

// The start banner names the three URLs and warns only when the port is
// reachable beyond loopback without a token.
func TestStartBanner(t *testing.T) {
	cases := []struct {
		addr       net.Addr
		tls, token bool
		want       []string
		warn       bool
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8043}, false, false,
			[]string{"http://localhost:8043/\n", "http://localhost:8043/api/v1/", "ws://localhost:8043/api/v1/ws", "(all interfaces)"}, true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8043}, false, true, []string{"http://localhost:8043/"}, false},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9000}, true, false,
			[]string{"https://127.0.0.1:9000/\n", "wss://127.0.0.1:9000/api/v1/ws"}, false},
		{&net.TCPAddr{IP: net.ParseIP("192.168.1.5"), Port: 8043}, false, false, []string{"http://192.168.1.5:8043/"}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8043}, false, false, []string{"http://[::1]:8043/"}, false},
	}
	for _, tc := range cases {
		got, exposed := startBanner(tc.addr, tc.tls, tc.token)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%v: banner lacks %q:\n%s", tc.addr, w, got)
			}
		}
		if exposed != tc.warn || strings.Contains(got, "WARNING") != tc.warn {
			t.Errorf("%v tls=%v token=%v: exposed=%v, want %v:\n%s", tc.addr, tc.tls, tc.token, exposed, tc.warn, got)
		}
	}
}

// A running agent prints its URLs at start (make run shows them).
func TestServePrintsURLs(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{})
	for _, w := range []string{"status page  " + a.URL + "/", "REST API     " + a.URL + "/api/v1/", "WebSocket    ws://" + a.Addr + "/api/v1/ws"} {
		if !strings.Contains(a.Log(), w) {
			t.Errorf("start output lacks %q:\n%s", w, a.Log())
		}
	}
	if strings.Contains(a.Log(), "WARNING") {
		t.Errorf("loopback agent warned:\n%s", a.Log())
	}
}

// Client flags may come before the command; help names serve, and serve's
// help names the client commands.
func TestCommandLineShapes(t *testing.T) {
	var out, errb bytes.Buffer
	// Nothing listens on port 1: the command ran as a client (exit 3), not
	// as serve ("flag provided but not defined").
	if code := run([]string{"--addr", "127.0.0.1:1", "--timeout=2s", "collectors", "list"}, &out, &errb); code != exitUnreachable {
		t.Errorf("towerd --addr H:P collectors list: exit %d, %s", code, errb.String())
	}
	if code := run([]string{"--addr=127.0.0.1:1", "--json", "status"}, &out, &errb); code != exitUnreachable {
		t.Errorf("towerd --addr=H:P --json status: exit %d, %s", code, errb.String())
	}
	if i := clientCommandAt([]string{"--port", "9", "status"}); i != -1 {
		t.Errorf("a serve flag before a word: got client command at %d", i)
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "towerd [serve]") {
		t.Errorf("towerd help: exit %d, %q", code, out.String())
	}
	errb.Reset()
	if code := run([]string{"serve", "--help"}, &out, &errb); code != 0 ||
		!strings.Contains(errb.String(), "towerd collectors list") || !strings.Contains(errb.String(), "towerd status") {
		t.Errorf("towerd serve --help: exit %d, %q", code, errb.String())
	}
}

// With --log-file the core's and the plugins' log lines go to that file
// (not stderr); the URLs are still printed.
func TestLogFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log", "towerd.log")
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Plugins(t, "system"),
		Args:    []string{"--log-file", path, "--log-level", "trace"},
	})
	a.WaitCollector(t, "system", 30*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	var b []byte
	plugintest.Eventually(t, 10*time.Second, func() bool {
		b, _ = os.ReadFile(path)
		return strings.Contains(string(b), "towerd.plugin.system")
	}, "log file lacks the plugin's lines:\n%s", b)
	if !strings.Contains(string(b), "towerd starting") {
		t.Errorf("log file lacks the core's lines:\n%s", b)
	}
	if strings.Contains(a.Log(), "towerd starting") || !strings.Contains(a.Log(), "status page") {
		t.Errorf("stdout/stderr: want the URLs and no log lines:\n%s", a.Log())
	}
}

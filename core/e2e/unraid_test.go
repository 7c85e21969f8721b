package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// recorder is a minimal emhttpd stand-in on <root>/var/run/emhttpd.socket
// that records request lines (the plugins' own tests use the fuller one
// in plugins/internal/emhttpd/emhttpdtest, which the core cannot import).
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func startRecorder(t *testing.T, root string) *recorder {
	t.Helper()
	rec := &recorder{}
	sock := filepath.Join(root, "var/run/emhttpd.socket")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.lines = append(rec.lines, r.Method+" "+r.RequestURI)
		rec.mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rec
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

// The Home Assistant controls end to end: REST route → agent → plugin
// process → emhttpd's socket, on a copy of the fixture tree.
func TestUnraidControlsEndToEnd(t *testing.T) {
	t.Parallel()
	root := coretest.FixtureCopy(t)
	rec := startRecorder(t, root)
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "array", "disk"), Root: root,
		Config: `{"collectors":{"disk":{"options":{"smart":"false"}}}}`})
	for _, c := range []string{"array", "disk"} {
		a.WaitCollector(t, c, 60*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	}
	tok := "csrf_token=0A1B2C3D4E5F6071"
	for _, tc := range []struct {
		path, body string
		code       int
		sent       string
	}{
		{"/array/start", "", 409, ""}, // the fixture array is STARTED
		{"/array/stop", "", 200, "GET /update.htm?cmdStop=Stop&" + tok + "&startState=STARTED"},
		{"/array/clear-disk-stats", `{"confirm":true}`, 200, "GET /update.htm?clearStatistics=true&" + tok},
		{"/array/clear-disk-stats", `{"confirm":false}`, 400, ""},
		{"/array/stop", `{"force":true}`, 400, ""},
		{"/disks/disk1/spindown", "", 200, "GET /update.htm?cmdSpindown=disk1&" + tok + "&startState=STARTED"},
		{"/disks/sdf/spinup", "", 200, "GET /update.htm?cmdSpinup=disk3&" + tok + "&startState=STARTED"},
		{"/disks/disk9/spinup", "", 404, ""},
		{"/disks/flash/spinup", "", 409, ""},
		{"/disks/DISK1/spinup", "", 400, ""},
		{"/docker/plex/remove", "", 400, ""}, // confirm is checked before the (absent) docker plugin
	} {
		code, body := a.Do(t, http.MethodPost, "/api/v1"+tc.path, tc.body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if code != tc.code || (code == 200) != (m["success"] == true) || m["message"] == "" {
			t.Errorf("POST %s %s: %d %s, want %d", tc.path, tc.body, code, body, tc.code)
		}
		got := strings.Join(rec.take(), "\n")
		if got != tc.sent {
			t.Errorf("POST %s: emhttpd got %q, want %q", tc.path, got, tc.sent)
		}
	}
}

// Power actions are off unless the settings file turns them on; on, they
// run Unraid's /sbin/reboot or /sbin/poweroff under the root (stand-ins
// here that log their call).
func TestPowerActions(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	calls := filepath.Join(root, "calls.log")
	for _, name := range []string{"reboot", "poweroff"} {
		script := "#!/bin/sh\necho \"$0 $*\" >> " + calls + "\n"
		p := filepath.Join(root, "sbin", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	off := coretest.Start(t, coretest.Options{Root: root})
	for _, p := range []string{"/system/reboot", "/system/shutdown"} {
		code, body := off.Do(t, http.MethodPost, "/api/v1"+p, "")
		if code != http.StatusForbidden || !strings.Contains(string(body), `\"power_actions\": true`) || !strings.Contains(string(body), off.ConfigPath) {
			t.Errorf("POST %s while disabled: %d %s", p, code, body)
		}
	}
	if _, err := os.Stat(calls); !os.IsNotExist(err) {
		t.Fatalf("a power command ran while power actions were off: %v", err)
	}

	on := coretest.Start(t, coretest.Options{Root: root, Config: `{"power_actions": true, "collectors": {}}`})
	for _, tc := range []struct{ path, msg, ran string }{
		{"/system/reboot", "Server reboot initiated", filepath.Join(root, "sbin/reboot")},
		{"/system/shutdown", "Server shutdown initiated", filepath.Join(root, "sbin/poweroff")},
	} {
		code, body := on.Do(t, http.MethodPost, "/api/v1"+tc.path, "")
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if code != 200 || m["success"] != true || m["message"] != tc.msg {
			t.Errorf("POST %s: %d %s", tc.path, code, body)
		}
		b, _ := os.ReadFile(calls)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if last := lines[len(lines)-1]; strings.TrimSpace(last) != tc.ran {
			t.Errorf("POST %s ran %q, want %s", tc.path, last, tc.ran)
		}
	}
	if code, body := on.Do(t, http.MethodGet, "/api/v1/system/reboot", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /system/reboot: %d %s", code, body)
	}
	// Without the command (not Unraid): 503, nothing runs.
	bare := coretest.Start(t, coretest.Options{Root: t.TempDir(), Config: `{"power_actions": true, "collectors": {}}`})
	if code, body := bare.Do(t, http.MethodPost, "/api/v1/system/shutdown", ""); code != http.StatusServiceUnavailable {
		t.Errorf("shutdown without /sbin/poweroff: %d %s", code, body)
	}
}

// /settings/docker and /settings/vm answer Unraid's service settings, and
// "off" on a host without the files, whatever the collectors do.
func TestServiceSettings(t *testing.T) {
	t.Parallel()
	fixture := coretest.Start(t, coretest.Options{Root: filepath.Join(coretest.RepoRoot(), "testdata", "unraid")})
	bare := coretest.Start(t, coretest.Options{Root: t.TempDir()})
	for _, tc := range []struct {
		a    *coretest.Agent
		path string
		want string
	}{
		{fixture, "/settings/docker", `"enabled":true,"image_path":"/mnt/user/system/docker/docker.img","default_network":"bridge","custom_networks":["br0","br0.20"]`},
		{fixture, "/settings/vm", `"enabled":true,"pci_devices":["0000:01:00.0"],"usb_devices":[]`},
		{bare, "/settings/docker", `"enabled":false,"image_path":"","default_network":"","custom_networks":[]`},
		{bare, "/settings/vm", `"enabled":false,"pci_devices":[],"usb_devices":[],"default_settings":{}`},
	} {
		var body []byte
		plugintest.Eventually(t, 5*time.Second, func() bool {
			var code int
			code, body = tc.a.Do(t, http.MethodGet, "/api/v1"+tc.path, "")
			return code == 200
		}, "GET %s", tc.path)
		if !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s on %s = %s, want it to contain %s", tc.path, tc.a.Root, body, tc.want)
		}
	}
}

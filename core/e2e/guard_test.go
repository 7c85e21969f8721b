package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/core/coretest"
)

// send makes one real HTTP request to a with the given headers (Host
// sets the Host header) and returns status and body.
func send(t *testing.T, a *coretest.Agent, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req := a.Request(t, method, path, body)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	code, b := coretest.Send(t, req)
	return code, string(b)
}

// Issue 13 item 10, with no token set (the default): a page on another
// site could disable a collector with a "simple" cross-site POST
// (text/plain, no preflight), and a page that rebinds its own DNS name to
// the server was served. Now state-changing requests take only JSON or no
// body, a foreign Origin is refused unless it is a --cors-origin, a Host
// that is not a name of this server is 421, and the WebSocket checks the
// Origin the same way.
func TestBrowserBorneRequestsRefused(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "echo1"),
		Args:    []string{"--allowed-host", "nas.lan", "--cors-origin", "http://ha.local:8123"},
	})
	a.WaitCollector(t, "echo1", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		code                     int
		msg                      string
	}{
		{"cross-site text/plain POST", "POST", "/api/v1/collectors/echo1/disable", `{}`,
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403, "origin"},
		{"text/plain POST, no Origin", "POST", "/api/v1/collectors/echo1/disable", `{}`,
			map[string]string{"Content-Type": "text/plain"}, 415, "must be JSON"},
		{"form POST", "POST", "/api/v1/collectors/echo1/disable", `a=b`,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "must be JSON"},
		{"cross-site JSON POST", "POST", "/api/v1/collectors/echo1/disable", "",
			map[string]string{"Origin": "http://evil.example"}, 403, "not allowed"},
		{"null origin", "POST", "/api/v1/collectors/echo1/disable", "", map[string]string{"Origin": "null"}, 403, "not allowed"},
		{"text/plain PATCH interval", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":30}`,
			map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, 415, "must be JSON"},
		{"rebound Host", "GET", "/api/v1/system", "", map[string]string{"Host": "evil.example:" + port(a)}, 421, "not a name of this server"},
		{"rebound Host, POST", "POST", "/api/v1/collectors/echo1/disable", "", map[string]string{"Host": "evil.example"}, 421, "--allowed-host"},
		{"rebound Host, status page", "GET", "/", "", map[string]string{"Host": "evil.example"}, 421, ""},
	}
	for _, tc := range cases {
		code, body := send(t, a, tc.method, tc.path, tc.body, tc.header)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %.200s, want %d %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
	if c := a.Collector(t, "echo1"); !c.Enabled || c.IntervalSeconds == 30 {
		t.Fatalf("a refused request changed the collector: %+v", c)
	}
	// What must keep working: IP literals, localhost, this machine's name
	// (plain or .local), configured names; same-origin and CORS-origin
	// POSTs with JSON or no body.
	for _, h := range []string{a.Addr, "localhost:" + port(a), "[::1]:" + port(a), host, short + ".local", "NAS.LAN:" + port(a), "nas.lan."} {
		if code, body := send(t, a, "GET", "/api/v1/health", "", map[string]string{"Host": h}); code != 200 {
			t.Errorf("Host %q: %d %s", h, code, body)
		}
	}
	for _, origin := range []string{a.URL, "http://ha.local:8123"} {
		hdr := map[string]string{"Origin": origin, "Content-Type": "application/json; charset=utf-8"}
		if code, body := send(t, a, "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":20}`, hdr); code != 200 {
			t.Errorf("PATCH from %s: %d %s", origin, code, body)
		}
		if code, body := send(t, a, "POST", "/api/v1/collectors/echo1/enable", "", map[string]string{"Origin": origin}); code != 200 {
			t.Errorf("POST without a body from %s: %d %s", origin, code, body)
		}
	}
	// The WebSocket: a foreign page may not open the stream.
	ws := "ws://" + a.Addr + "/api/v1/ws"
	if c, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {"http://evil.example"}}); err == nil {
		c.Close()
		t.Error("WebSocket from a foreign origin accepted")
	} else if resp == nil || resp.StatusCode != 403 {
		t.Errorf("WebSocket from a foreign origin: %v %v", err, resp)
	}
	for _, origin := range []string{"", a.URL, "http://ha.local:8123"} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, _, err := websocket.DefaultDialer.Dial(ws, h)
		if err != nil {
			t.Errorf("WebSocket with Origin %q: %v", origin, err)
			continue
		}
		c.Close()
	}
	// With a token, a rebinding page has nothing to send: any Host passes
	// (to the token check).
	tok := coretest.Start(t, coretest.Options{Env: []string{"TOWERD_TOKEN=tok"}})
	if code, _ := send(t, tok, "GET", "/api/v1/system", "", map[string]string{"Host": "nas.example", "Authorization": "Bearer tok"}); code != 200 {
		t.Errorf("with a token, Host nas.example: %d", code)
	}
}

func port(a *coretest.Agent) string { return a.Addr[strings.LastIndex(a.Addr, ":")+1:] }

// Issue 13 item 8, reproduced on an 8 KiB tmpfs: towerd runs on the
// last-good copy (the settings file is corrupt), the disk is full, a
// change through the API cannot be saved. That save used to rename the
// corrupt file away before writing the new one, so the next start found
// no file and ran on defaults, without the token. Now the failed save
// leaves the file in place and the next start still requires the token;
// and with the file gone but its last-good copy beside it, towerd runs on
// that copy (token included).
func TestSettingsNeverLoseToken(t *testing.T) {
	t.Parallel()
	dir := coretest.TinyFS(t, "8k")
	path := filepath.Join(dir, "towerd.json")
	a := coretest.Start(t, coretest.Options{ConfigPath: path, Config: `{"token":"tok"}`})
	a.Stop(t)
	if _, err := os.Stat(path + ".last-good"); err != nil {
		t.Fatalf("no last-good copy after a clean start: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"token":"tok",`), 0o600); err != nil {
		t.Fatal(err)
	}
	coretest.Fill(t, dir)
	a.Restart(t)
	if !strings.Contains(a.Log(), "running on the last good copy") {
		t.Errorf("no recovery logged:\n%s", a.Log())
	}
	auth := map[string]string{"Authorization": "Bearer tok"}
	if code, body := send(t, a, "PATCH", "/api/v1/collectors/system/interval", `{"interval":30}`,
		map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"}); code != 500 || !strings.Contains(body, "no space left") {
		t.Errorf("save on a full disk: %d %s, want 500 naming the cause", code, body)
	}
	a.Restart(t)
	if code, _ := send(t, a, "GET", "/api/v1/system", "", nil); code != 401 {
		t.Fatalf("after a failed save and a restart, the API answers %d without the token (want 401)\n%s", code, a.Log())
	}
	if code, _ := send(t, a, "GET", "/api/v1/system", "", auth); code != 200 {
		t.Errorf("with the token: %d", code)
	}
	a.Stop(t)

	// The file gone, its last-good copy beside it: that copy is loaded.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	a.Restart(t)
	if code, _ := send(t, a, "GET", "/api/v1/system", "", nil); code != 401 {
		t.Errorf("file missing, last-good present: %d without the token (want 401)", code)
	}
}

// chunked sends body with no Content-Length (Transfer-Encoding: chunked).
func chunked(t *testing.T, a *coretest.Agent, method, path string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	code, b := coretest.Send(t, req)
	return code, string(b)
}

// Issue 13 item 11: the smaller input checks, each through a real
// request to a real towerd.
func TestSmallerInputChecks(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "echo1")})
	a.WaitCollector(t, "echo1", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	big := `{"interval":10,"pad":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, path := range []string{"/api/v1/collectors/echo1/interval", "/api/v1/vm/ok/reset"} {
		method := map[bool]string{true: "PATCH", false: "POST"}[strings.HasSuffix(path, "interval")]
		if code, body := chunked(t, a, method, path, big); code != 413 || !strings.Contains(body, "exceeds the limit") {
			t.Errorf("chunked 70 KiB %s %s: %d %.200s, want 413", method, path, code, body)
		}
	}
	json := map[string]string{"Content-Type": "application/json"}
	long := strings.Repeat("n", 5000)
	cases := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"trailing garbage", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":10} rm -rf`, 400, "unexpected data after"},
		{"second object", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":10}{"interval":5}`, 400, "unexpected data after"},
		{"unknown key", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":10,"x":1}`, 400, `unknown key \"x\"`},
		{"key case", "PATCH", "/api/v1/collectors/echo1/interval", `{"Interval":10}`, 400, `unknown key \"Interval\"`},
		{"fraction", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":10.5}`, 400, "from 5 to 86400"},
		{"interval 1", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":1}`, 400, "5 to 86400"},
		{"interval wraps", "PATCH", "/api/v1/collectors/echo1/interval", `{"interval":18446744079}`, 400, "out of range"},
		{"blank VM name", "POST", "/api/v1/vm/%20%20%20/start", "", 400, "invalid VM name"},
		{"confirm string", "POST", "/api/v1/vm/ok/reset", `{"confirm":"true"}`, 400, `{\"confirm\":true}`},
		{"confirm number", "POST", "/api/v1/vm/ok/reset", `{"confirm":1}`, 400, `{\"confirm\":true}`},
		{"correcting yes", "POST", "/api/v1/array/parity-check/start?correcting=yes", "", 400, "correcting must be true or false"},
		{"correcting empty", "POST", "/api/v1/array/parity-check/start?correcting=", "", 400, "correcting must be true or false"},
	}
	for _, tc := range cases {
		code, body := send(t, a, tc.method, tc.path, tc.body, json)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %.200s, want %d %q", tc.name, code, body, tc.code, tc.msg)
		}
	}
	if c := a.Collector(t, "echo1"); c.IntervalSeconds == 10 {
		t.Errorf("a refused PATCH changed the interval: %+v", c)
	}
	// An unknown collector name is echoed at most 64 bytes, on every route
	// that takes one.
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/collectors/" + long}, {"GET", "/api/v1/collectors/" + long + "/data"},
		{"POST", "/api/v1/collectors/" + long + "/enable"}, {"POST", "/api/v1/collectors/" + long + "/disable"},
		{"PATCH", "/api/v1/collectors/" + long + "/interval"}, {"POST", "/api/v1/collectors/" + long + "/actions/go"},
	} {
		body := ""
		if r.method == "PATCH" {
			body = `{"interval":10}`
		}
		code, msg := send(t, a, r.method, r.path, body, json)
		if code != 404 || !strings.Contains(msg, "unknown collector") || len(msg) > 160 {
			t.Errorf("%s unknown collector of %d bytes: %d, %d-byte answer %.200s", r.method, len(long), code, len(msg), msg)
		}
	}
	// HEAD on health, as uptime checkers send.
	resp, err := http.Head(a.URL + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD /api/v1/health: %d", resp.StatusCode)
	}
}

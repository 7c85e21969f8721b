package httpguard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// request sends one real request to srv with the Host header set to host
// ("" keeps the listener's address).
func request(t *testing.T, srv *httptest.Server, method, path, host string, header map[string]string, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// DNS rebinding: without a token, only IP literals, localhost, the
// machine's name (plain, short or .local) and configured names are served;
// other Hosts get 421 on every path. With a token any Host passes on to
// the token check.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{Hostname: "Tower.example.com", AllowedHosts: []string{"nas.lan", " unraid.home.arpa "}})
	for host, want := range map[string]int{
		"127.0.0.1:8043": 200, "[::1]:8043": 200, "192.168.1.10": 200, "[fe80::1%25eth0]:8043": 200,
		"localhost:8043": 200, "LOCALHOST": 200, "tower": 200, "tower.local:8043": 200, "tower.example.com.": 200,
		"nas.lan": 200, "unraid.home.arpa:80": 200,
		"evil.example": 421, "evil.example:8043": 421, "tower.evil.example": 421, "localhost.evil.example": 421,
		"127.0.0.1.nip.io": 421, "0x7f000001": 421,
	} {
		for _, path := range []string{"/api/v1/system", "/api/v1/health", "/"} {
			if got := request(t, srv, http.MethodGet, path, host, nil, ""); got != want {
				t.Errorf("Host %q %s: %d, want %d", host, path, got, want)
			}
		}
	}
	all := serve(t, Options{Hostname: "tower", AllowedHosts: []string{"*"}})
	if got := request(t, all, http.MethodGet, "/api/v1/system", "evil.example", nil, ""); got != 200 {
		t.Errorf(`allowed host "*": %d`, got)
	}
	tok := serve(t, Options{Hostname: "tower", Token: "t"})
	if got := request(t, tok, http.MethodGet, "/api/v1/system", "nas.example", map[string]string{"Authorization": "Bearer t"}, ""); got != 200 {
		t.Errorf("token set, other Host, right token: %d", got)
	}
	if got := request(t, tok, http.MethodGet, "/api/v1/system", "nas.example", nil, ""); got != 401 {
		t.Errorf("token set, other Host, no token: %d", got)
	}
}

// Cross-site requests: a state-changing request with a foreign Origin is
// 403 and one with a body that is not JSON is 415, token or not; GETs and
// same-origin or CORS-origin requests pass.
func TestStateChangingRequestsFromBrowsers(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{Hostname: "tower", CORSOrigins: []string{"http://ha.local:8123"}})
	host := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		method, origin, ctype, body string
		want                        int
	}{
		{"POST", "http://evil.example", "", "", 403},
		{"POST", "http://evil.example", "application/json", "{}", 403},
		{"PATCH", "https://evil.example", "application/json", "{}", 403},
		{"DELETE", "http://evil.example", "", "", 403},
		{"POST", "null", "", "", 403},
		{"POST", "http://" + host + ".evil.example", "", "", 403},
		{"POST", "", "text/plain", "{}", 415},
		{"POST", "", "", "{}", 415},
		{"POST", "", "multipart/form-data; boundary=x", "--x--", 415},
		{"POST", "", "application/x-www-form-urlencoded", "a=b", 415},
		{"PATCH", "", "application/jsonx", "{}", 415},
		{"POST", "", "", "", 200},
		{"POST", "", "text/plain", "", 200}, // no body: nothing to smuggle
		{"POST", "", "application/json", "{}", 200},
		{"POST", "", "application/json; charset=utf-8", "{}", 200},
		{"POST", "http://" + host, "application/json", "{}", 200},
		{"POST", "http://ha.local:8123", "application/json", "{}", 200},
		{"GET", "http://evil.example", "text/plain", "", 200},
	}
	for _, tc := range cases {
		h := map[string]string{}
		if tc.origin != "" {
			h["Origin"] = tc.origin
		}
		if tc.ctype != "" {
			h["Content-Type"] = tc.ctype
		}
		if got := request(t, srv, tc.method, "/api/v1/collectors/x/disable", "", h, tc.body); got != tc.want {
			t.Errorf("%s Origin %q Content-Type %q body %q: %d, want %d", tc.method, tc.origin, tc.ctype, tc.body, got, tc.want)
		}
	}
	// The token does not lift the checks: they cost a real client nothing.
	tok := serve(t, Options{Token: "t"})
	if got := request(t, tok, "POST", "/api/v1/x", "", map[string]string{"Authorization": "Bearer t", "Content-Type": "text/plain"}, "{}"); got != 415 {
		t.Errorf("token, text/plain body: %d", got)
	}
}

// The WebSocket upgrade checks the Origin as state-changing requests do,
// with no CORS origins configured too.
func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	g := New(Options{Hostname: "tower"})
	up := websocket.Upgrader{CheckOrigin: g.CheckOrigin}
	srv := httptest.NewServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r, nil); err == nil {
			c.Close()
		}
	})))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/ws"
	for origin, ok := range map[string]bool{"": true, srv.URL: true, "http://evil.example": false, "null": false} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(url, h)
		if c != nil {
			c.Close()
		}
		if ok != (err == nil) || !ok && (resp == nil || resp.StatusCode != 403) {
			t.Errorf("Origin %q: err %v, want accepted=%v", origin, err, ok)
		}
	}
}

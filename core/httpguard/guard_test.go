package httpguard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// backend echoes the body length and panics on /api/v1/panic.
func backend() http.Handler {
	up := websocket.Upgrader{Subprotocols: []string{"towerd.v1"}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/panic":
			panic("boom")
		case "/api/v1/ws":
			c, err := up.Upgrade(w, r, nil)
			if err == nil {
				c.Close()
			}
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, `{"success":false,"message":"body: `+err.Error()+`"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"len":`+itoa(len(b))+`}`)
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func serve(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(opts).Wrap(backend()))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// With a token every /api/v1 route needs it except health; the 401 has the
// exact shape clients expect; the WebSocket also takes the query parameter
// and subprotocol forms, other routes do not.
func TestTokenAuth(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{Token: "s3cret-token"})
	cases := []struct {
		path, auth string
		want       int
	}{
		{"/api/v1/system", "", 401},
		{"/api/v1/system", "Bearer wrong", 401},
		{"/api/v1/system", "Bearer s3cret-token-and-more", 401},
		{"/api/v1/system", "Basic czNjcmV0LXRva2Vu", 401},
		{"/api/v1/system", "Bearer s3cret-token", 200},
		{"/api/v1/system", "bearer  s3cret-token ", 200},
		{"/api/v1/health", "", 200},
		{"/api/v1/health/../system", "", 401},
		{"/api/v1/system?token=s3cret-token", "", 401}, // query form only for the WebSocket
		{"/api/v1/ws?token=wrong", "", 401},
		{"/", "", 200}, // outside the API: nothing served there, nothing guarded
	}
	for _, tc := range cases {
		resp, body := do(t, http.MethodGet, srv.URL+tc.path, map[string]string{"Authorization": tc.auth}, "")
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s with %q: %d %s, want %d", tc.path, tc.auth, resp.StatusCode, body, tc.want)
		}
		if tc.want == 401 {
			if body != `{"error":"Unauthorized"}` || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s: 401 body %s, WWW-Authenticate %q", tc.path, body, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}

	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/ws"
	dial := func(url string, h http.Header) (int, string) {
		c, resp, err := websocket.DefaultDialer.Dial(url, h)
		if err == nil {
			defer c.Close()
			return resp.StatusCode, c.Subprotocol()
		}
		if resp == nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return resp.StatusCode, ""
	}
	if code, _ := dial(wsURL, nil); code != 401 {
		t.Errorf("WebSocket without token: %d, want 401", code)
	}
	if code, _ := dial(wsURL, http.Header{"Authorization": {"Bearer s3cret-token"}}); code != 101 {
		t.Errorf("WebSocket with header: %d, want 101", code)
	}
	if code, _ := dial(wsURL+"?token=s3cret-token", nil); code != 101 {
		t.Errorf("WebSocket with ?token=: %d, want 101", code)
	}
	if code, _ := dial(wsURL+"?access_token=s3cret-token", nil); code != 101 {
		t.Errorf("WebSocket with ?access_token=: %d, want 101", code)
	}
	code, proto := dial(wsURL, http.Header{"Sec-WebSocket-Protocol": {"towerd.v1, bearer.s3cret-token"}})
	if code != 101 || proto != "towerd.v1" {
		t.Errorf("WebSocket with subprotocol token: %d %q, want 101 towerd.v1", code, proto)
	}
	if code, _ := dial(wsURL, http.Header{"Sec-WebSocket-Protocol": {"towerd.v1, bearer.nope"}}); code != 401 {
		t.Errorf("WebSocket with a wrong subprotocol token: %d, want 401", code)
	}
}

// Without a token nothing needs auth.
func TestNoTokenNoAuth(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{})
	if resp, body := do(t, http.MethodGet, srv.URL+"/api/v1/system", nil, ""); resp.StatusCode != 200 {
		t.Errorf("GET without token configured: %d %s", resp.StatusCode, body)
	}
}

// Bodies over the limit get 413 JSON up front (Content-Length) or an error
// while reading (chunked); a panic in a handler is a 500 JSON.
func TestBodyLimitAndPanic(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{MaxBody: 1024})
	jsonType := map[string]string{"Content-Type": "application/json"}
	resp, body := do(t, http.MethodPost, srv.URL+"/api/v1/x", jsonType, strings.Repeat("a", 2048))
	if resp.StatusCode != 413 || !strings.Contains(body, `"success":false`) || !strings.Contains(body, "exceeds the limit of 1024") {
		t.Errorf("oversized body: %d %s", resp.StatusCode, body)
	}
	// Chunked: no Content-Length, the reader stops at the limit.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/x", io.MultiReader(strings.NewReader(strings.Repeat("b", 4096))))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 400 || !strings.Contains(string(b2), "request body too large") {
		t.Errorf("chunked oversized body: %d %s", r2.StatusCode, b2)
	}
	if resp, body := do(t, http.MethodPost, srv.URL+"/api/v1/x", jsonType, strings.Repeat("c", 1024)); resp.StatusCode != 200 || body != `{"len":1024}` {
		t.Errorf("body at the limit: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, http.MethodGet, srv.URL+"/api/v1/panic", nil, ""); resp.StatusCode != 500 || body != `{"message":"internal error","success":false}` {
		t.Errorf("panic: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodGet, srv.URL+"/api/v1/x", nil, ""); resp.StatusCode != 200 {
		t.Errorf("server unusable after a panic: %d", resp.StatusCode)
	}
}

// The rate limit (applied to loopback here, which is exempt by default)
// lets the HA client's burst of 32 concurrent GETs through, then answers
// 429 with Retry-After once the burst is spent.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{Rate: 1, Burst: 40, LimitLoopback: true})
	var wg sync.WaitGroup
	codes := make(chan int, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/api/v1/system")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("a request of the 32-GET burst got %d", c)
		}
	}
	var last *http.Response
	var body string
	for i := 0; i < 20; i++ {
		last, body = do(t, http.MethodGet, srv.URL+"/api/v1/system", nil, "")
		if last.StatusCode == 429 {
			break
		}
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many requests") {
		t.Fatalf("after the burst: %d %s Retry-After=%q", last.StatusCode, body, last.Header.Get("Retry-After"))
	}
	// Health is limited too (it is cheap, but so is flooding it).
	if resp, _ := do(t, http.MethodGet, srv.URL+"/api/v1/health", nil, ""); resp.StatusCode != 429 {
		t.Errorf("health during the limit: %d", resp.StatusCode)
	}
}

// Loopback clients are exempt by default: 500 quick requests all pass.
func TestLoopbackExempt(t *testing.T) {
	t.Parallel()
	srv := serve(t, Options{Rate: 1, Burst: 1})
	for i := 0; i < 500; i++ {
		if resp, body := do(t, http.MethodGet, srv.URL+"/api/v1/system", nil, ""); resp.StatusCode != 200 {
			t.Fatalf("request %d from loopback: %d %s", i, resp.StatusCode, body)
		}
	}
}

// The limiter keeps one bucket per address and forgets idle ones.
func TestLimitersPerAddress(t *testing.T) {
	t.Parallel()
	g := New(Options{Rate: 1, Burst: 2, LimitLoopback: true})
	r := func(addr string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/system", nil)
		req.RemoteAddr = addr
		return req
	}
	for i, want := range []bool{true, true, false} {
		if _, ok := g.allow(r("192.0.2.1:1000")); ok != want {
			t.Errorf("request %d from 192.0.2.1: allowed=%v", i, ok)
		}
	}
	if _, ok := g.allow(r("192.0.2.2:1000")); !ok {
		t.Errorf("another address was limited by the first one's bucket")
	}
	if _, ok := g.allow(r("[::1]:1000")); !ok {
		t.Errorf("IPv6 loopback limited")
	}
}

// CORS: allowed origins get the headers and a preflight answer without a
// token; others get none and a 403 preflight; WebSocket origins follow.
func TestCORS(t *testing.T) {
	t.Parallel()
	g := New(Options{Token: "t", CORSOrigins: []string{"http://ha.local:8123"}})
	srv := httptest.NewServer(g.Wrap(backend()))
	defer srv.Close()
	pre := map[string]string{"Origin": "http://ha.local:8123", "Access-Control-Request-Method": "GET"}
	resp, _ := do(t, http.MethodOptions, srv.URL+"/api/v1/system", pre, "")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://ha.local:8123" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	pre["Origin"] = "http://evil.example"
	if resp, body := do(t, http.MethodOptions, srv.URL+"/api/v1/system", pre, ""); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused preflight: %d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, http.MethodGet, srv.URL+"/api/v1/system", map[string]string{"Origin": "http://ha.local:8123", "Authorization": "Bearer t"}, "")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://ha.local:8123" {
		t.Errorf("allowed GET: %d %v", resp.StatusCode, resp.Header)
	}
	check := func(origin, host string) bool {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/ws", nil)
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return g.CheckOrigin(r)
	}
	if !check("", "tower:8043") || !check("http://ha.local:8123", "tower:8043") || !check("http://tower:8043", "tower:8043") || check("http://evil.example", "tower:8043") {
		t.Errorf("WebSocket origin check wrong")
	}
	if !New(Options{}).CheckOrigin(httptest.NewRequest(http.MethodGet, "/", nil)) {
		t.Errorf("a WebSocket request without an Origin (not a browser) must pass")
	}
}

// The token parsers never panic and never return a token with spaces
// around it or an empty one.
func FuzzTokenParsers(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic x", "Bearer", "", "towerd.v1, bearer.abc", "bearer.", " , ,bearer.x,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tok, ok := BearerToken(s); ok && (tok == "" || strings.TrimSpace(tok) != tok) {
			t.Fatalf("BearerToken(%q) = %q", s, tok)
		}
		if tok, ok := ProtocolToken([]string{s}); ok && tok == "" {
			t.Fatalf("ProtocolToken(%q) = empty", s)
		}
		g := New(Options{Token: "secret"})
		r := httptest.NewRequest(http.MethodGet, "/api/v1/ws", nil)
		r.Header.Set("Authorization", s)
		r.Header.Set("Sec-WebSocket-Protocol", s)
		if g.authorized(r) && !strings.Contains(s, "secret") {
			t.Fatalf("authorized with %q", s)
		}
	})
}

// With a token, /metrics needs it like the API; the status page and
// /api/v1/health stay open.
func TestTokenCoversMetricsNotStatusPage(t *testing.T) {
	g := New(Options{Token: "s3cret"})
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for path, want := range map[string]int{
		"/metrics": http.StatusUnauthorized, "/api/v1/system": http.StatusUnauthorized,
		"/": http.StatusOK, "/api/v1/health": http.StatusOK,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s without token: %d, want %d", path, rec.Code, want)
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s with token: %d", path, rec.Code)
		}
	}
}

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/schema"
)

func get(t *testing.T, a *coretest.Agent, path string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The token comes from TOWERD_TOKEN or the settings file (a flag wins over
// both); every route but health needs it, the WebSocket takes it in the
// header, the query or the subprotocol.
func TestTokenAuthEndToEnd(t *testing.T) {
	t.Parallel()
	sys := coretest.Plugins(t, "system")
	env := coretest.Start(t, coretest.Options{Plugins: sys, Env: []string{"TOWERD_TOKEN=env-token"}})
	file := coretest.Start(t, coretest.Options{Plugins: sys, Config: `{"token":"file-token"}`})
	both := coretest.Start(t, coretest.Options{Config: `{"token":"file-token"}`, Env: []string{"TOWERD_TOKEN=env-token"}, Args: []string{"--token", "flag-token"}})
	for a, tok := range map[*coretest.Agent]string{env: "env-token", file: "file-token", both: "flag-token"} {
		if code, h, body := get(t, a, "/api/v1/system", nil); code != 401 || body != `{"error":"Unauthorized"}` || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without token: %d %s %v", tok, code, body, h)
		}
		for _, path := range []string{"/api/v1/system", "/api/v1/collectors/status", "/api/v1/docker", "/api/v1/nope"} {
			code, _, _ := get(t, a, path, map[string]string{"Authorization": "Bearer " + tok})
			if want := map[bool]int{true: 404, false: 200}[path == "/api/v1/nope"]; code != want {
				t.Errorf("%s GET %s with token: %d, want %d", tok, path, code, want)
			}
		}
		if code, _, _ := get(t, a, "/api/v1/health", nil); code != 200 {
			t.Errorf("%s: health needs a token (%d)", tok, code)
		}
		if code, _, _ := get(t, a, "/api/v1/system", map[string]string{"Authorization": "Bearer file-token-x"}); code != 401 {
			t.Errorf("%s: wrong token accepted", tok)
		}
	}
	if strings.Contains(both.Log(), "flag-token") {
		t.Errorf("the token appears in the log")
	}
	if !strings.Contains(both.Log(), "token given on the command line") {
		t.Errorf("no warning for a token on the command line")
	}

	if _, resp, err := env.DialErr(); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("WebSocket without token: %v %v", err, resp)
	}
	ws := env.Dial(t, http.Header{"Authorization": {"Bearer env-token"}})
	ws.WaitTopic(t, schema.TopicSystem, 15*time.Second)
	for _, d := range []struct {
		url   string
		proto []string
	}{
		{"ws://" + env.Addr + "/api/v1/ws?token=env-token", nil},
		{"ws://" + env.Addr + "/api/v1/ws", []string{"towerd.v1", "bearer.env-token"}},
	} {
		dialer := websocket.Dialer{Subprotocols: d.proto}
		c, _, err := dialer.Dial(d.url, nil)
		if err != nil {
			t.Errorf("WebSocket %s %v: %v", d.url, d.proto, err)
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), `"event":"update"`) {
			t.Errorf("WebSocket %s: %v %s", d.url, err, msg)
		}
		c.Close()
	}
}

// writeCert makes a self-signed certificate for 127.0.0.1.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "towerd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With --tls-cert/--tls-key the API and WebSocket are served over TLS only.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	plugins := filepath.Join(dir, "plugins.d")
	_ = os.Mkdir(plugins, 0o755)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(coretest.Towerd(t), "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--plugins-dir", plugins,
		"--config", filepath.Join(dir, "towerd.json"), "--tls-cert", certFile, "--tls-key", keyFile)
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	var resp *http.Response
	plugintestEventually(t, 15*time.Second, func() bool {
		var err error
		resp, err = client.Get(base + "/api/v1/health")
		return err == nil
	}, "no HTTPS answer")
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("HTTPS health: %d tls=%v", resp.StatusCode, resp.TLS != nil)
	}
	if r, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/api/v1/health"); err == nil {
		if r.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200 on a TLS port")
		}
		r.Body.Close()
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	c, _, err := d.Dial("wss://127.0.0.1:"+strconv.Itoa(port)+"/api/v1/ws", nil)
	if err != nil {
		t.Fatalf("WSS: %v", err)
	}
	c.Close()

	// A bad key pair is a clear startup error.
	out, err := exec.Command(coretest.Towerd(t), "--port", "0", "--plugins-dir", plugins, "--config", filepath.Join(dir, "x.json"),
		"--tls-cert", certFile, "--tls-key", certFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "TLS certificate") {
		t.Errorf("bad key pair: %v %s", err, out)
	}
}

// Plugins that fail the file checks or the SHA256SUMS list are refused,
// reported failed with the reason, and never started.
func TestUnsafePluginsRefused(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "echo1"),
		Config:  `{"collectors":{"echo2":{"enabled":false},"echo3":{"enabled":false}}}`,
	})
	bin := filepath.Join(a.PluginsDir, "echo1")
	b, _ := os.ReadFile(bin)
	for _, n := range []string{"echo2", "echo3"} {
		if err := os.WriteFile(filepath.Join(a.PluginsDir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Chmod(filepath.Join(a.PluginsDir, "echo2"), 0o777)
	if err := os.WriteFile(filepath.Join(a.PluginsDir, "SHA256SUMS"), []byte(strings.Repeat("0", 64)+"  echo3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Restart(t) // rediscover
	for name, want := range map[string]string{"echo2": "writable by group or others", "echo3": "does not match its checksum"} {
		mustOK(t, a, http.MethodPost, "/api/v1/collectors/"+name+"/enable", "")
		c := a.WaitCollector(t, name, 10*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
		if !strings.Contains(c.LastError, want) || c.PID != 0 {
			t.Errorf("%s: %+v, want failed with %q", name, c, want)
		}
	}
	// echo1 is not listed in SHA256SUMS: refused too after the restart.
	if c := a.WaitCollector(t, "echo1", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" }); !strings.Contains(c.LastError, "not listed") {
		t.Errorf("echo1: %q", c.LastError)
	}
	if n := len(a.PluginProcesses()); n != 0 {
		t.Errorf("%d refused plugins run", n)
	}
}

// Bad HTTP and WebSocket input gets clear JSON errors or close reasons and
// leaves the core serving.
func TestBadInput(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "docker")})
	a.WaitCollector(t, "docker", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	long := strings.Repeat("a", 8000)
	cases := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/api/v1/docker/0123456789ab/start", `{"x":"` + strings.Repeat("y", 1<<20) + `"}`, 413, "exceeds the limit"},
		{"PATCH", "/api/v1/collectors/docker/interval", strings.Repeat(" ", 100<<10), 413, "exceeds the limit"},
		{"POST", "/api/v1/docker/" + long + "/start", "", 400, "invalid container id"},
		{"GET", "/api/v1/disks/" + long, "", 400, "too long"},
		{"GET", "/api/v1/collectors/" + long, "", 404, "unknown collector"},
		{"POST", "/api/v1/docker/..%2F..%2F..%2Fetc%2Fpasswd/start", "", 400, "invalid container id"},
		{"GET", "/api/v1/../../etc/passwd", "", 404, ""},
		{"POST", "/api/v1/vm/ok/reset", `{"confirm":`, 400, "not a JSON object"},
		{"POST", "/api/v1/vm/ok/reset", `[1,2]`, 400, "not a JSON object"},
		{"PUT", "/api/v1/docker", "", 405, "not allowed"},
		{"GET", "/api/v1/docker/0123456789ab/start", "", 405, "not allowed"},
		{"GET", "/api/v1/whatever", "", 404, "no such endpoint"},
	}
	for _, tc := range cases {
		code, b := a.Do(t, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(string(b), tc.msg) || !strings.Contains(string(b), `"success":false`) {
			t.Errorf("%s %.60s: %d %.200s, want %d %q", tc.method, tc.path, code, b, tc.code, tc.msg)
		}
	}
	// Eleven WebSocket clients: the last is refused with a reason.
	for i := 0; i < 10; i++ {
		a.Dial(t)
	}
	ws, _, err := a.DialErr()
	if err != nil {
		t.Fatal(err)
	}
	plugintestEventually(t, 10*time.Second, func() bool { closed, _ := ws.Closed(); return closed }, "11th client not refused")
	_, cerr := ws.Closed()
	var ce *websocket.CloseError
	if !errors.As(cerr, &ce) || ce.Code != websocket.CloseTryAgainLater || !strings.Contains(ce.Text, "too many clients") {
		t.Errorf("11th client: %v", cerr)
	}
	if c := a.Collector(t, "docker"); c.Restarts != 0 || c.Status != "running" {
		t.Errorf("bad input disturbed the plugin: %+v", c)
	}
}

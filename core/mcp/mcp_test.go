package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

const token = "mcp-test-token"

// bearer adds the API token to every request.
type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.tok != "" {
		r.Header.Set("Authorization", "Bearer "+b.tok)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// fixtureCopy is a private copy of the fixture Unraid tree, since parity
// actions write <root>/proc/mdcmd.
func fixtureCopy(t *testing.T) string {
	t.Helper()
	dst := coretest.FixtureCopy(t)
	// The md driver's command file, which the array plugin writes to.
	if err := os.WriteFile(filepath.Join(dst, "proc", "mdcmd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// startAgent runs towerd with the system and array plugins on the fixture
// tree, plus the third-party test plugin "echo", with a token.
func startAgent(t *testing.T, args ...string) *coretest.Agent {
	t.Helper()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, "system", "array"), coretest.TestPlugins(t, "echo")),
		Root:    fixtureCopy(t),
		Env:     []string{"TOWERD_TOKEN=" + token},
		Args:    args,
	})
	// coretest's helpers send no token; poll the collector list with it.
	hc := &http.Client{Transport: bearer{token}, Timeout: 5 * time.Second}
	var last string
	plugintest.Eventually(t, 15*time.Second, func() bool {
		resp, err := hc.Get(a.URL + "/api/v1/collectors/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var l struct {
			Collectors []coretest.Collector `json:"collectors"`
		}
		if json.NewDecoder(resp.Body).Decode(&l) != nil {
			return false
		}
		running := 0
		for _, c := range l.Collectors {
			if c.Status == "running" {
				running++
			}
		}
		last = fmt.Sprint(l.Collectors)
		return running == 3
	}, "system, array and echo not all running: %s\n%s", &last, a)
	return a
}

func connectHTTP(t *testing.T, a *coretest.Agent, tok string) (*sdkmcp.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "towerd-test", Version: "1"}, nil)
	s, err := c.Connect(ctx, &sdkmcp.StreamableClientTransport{
		Endpoint: a.URL + "/mcp", HTTPClient: &http.Client{Transport: bearer{tok}}, MaxRetries: -1,
	}, nil)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func toolNames(t *testing.T, s *sdkmcp.ClientSession) []string {
	t.Helper()
	res, err := s.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

func call(t *testing.T, s *sdkmcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := s.CallTool(context.Background(), &sdkmcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdkmcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	return text.String(), res.IsError
}

// waitTool polls tools/list until name is listed (a plugin's actions are
// known once it runs; the server re-reads the collector list at most once
// a second).
func waitTool(t *testing.T, s *sdkmcp.ClientSession, name string) []string {
	t.Helper()
	var names []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		names = toolNames(t, s)
		if slices.Contains(names, name) {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("tool %s never listed; tools: %v", name, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Over real HTTP, read-only (the default): read tools for every installed
// collector (the third-party one too), no action tools, an action refused,
// a resource per topic; no token, no session.
func TestHTTPReadOnly(t *testing.T) {
	t.Parallel()
	a := startAgent(t)

	if _, err := connectHTTP(t, a, ""); err == nil {
		t.Fatal("connected to /mcp without the token")
	}
	if _, err := connectHTTP(t, a, "wrong"); err == nil {
		t.Fatal("connected to /mcp with a wrong token")
	}
	code, body := a.Do(t, http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if code != http.StatusUnauthorized {
		t.Errorf("POST /mcp without token: %d %s, want 401", code, body)
	}

	s, err := connectHTTP(t, a, token)
	if err != nil {
		t.Fatalf("connect with token: %v\n%s", err, a)
	}
	names := waitTool(t, s, "get_echo")
	for _, want := range []string{"list_collectors", "get_system", "get_array", "get_echo"} {
		if !slices.Contains(names, want) {
			t.Errorf("tool %s missing: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "array_") || strings.HasPrefix(n, "echo_") {
			t.Errorf("action tool %s listed in read-only mode", n)
		}
	}

	text, isErr := call(t, s, "get_array", nil)
	var arr map[string]any
	if isErr || json.Unmarshal([]byte(text), &arr) != nil || arr["state"] != "STARTED" {
		t.Errorf("get_array: error=%v %s", isErr, text)
	}
	text, isErr = call(t, s, "get_echo", nil)
	if isErr || !strings.Contains(text, `"n"`) {
		t.Errorf("get_echo (third-party): error=%v %s", isErr, text)
	}
	text, isErr = call(t, s, "list_collectors", nil)
	if isErr || !strings.Contains(text, `"name":"echo"`) {
		t.Errorf("list_collectors: error=%v %s", isErr, text)
	}

	text, isErr = call(t, s, "array_parity-check-pause", nil)
	if !isErr || !strings.Contains(text, "read-only") {
		t.Errorf("action in read-only mode: error=%v %q, want refused", isErr, text)
	}
	if b, _ := os.ReadFile(filepath.Join(a.Root, "proc", "mdcmd")); strings.Contains(string(b), "pause") {
		t.Errorf("refused action reached the plugin: mdcmd %q", b)
	}

	res, err := s.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range res.Resources {
		uris = append(uris, r.URI)
	}
	for _, want := range []string{"towerd://topics/system_update", "towerd://topics/array_status_update"} {
		if !slices.Contains(uris, want) {
			t.Errorf("resource %s missing: %v", want, uris)
		}
	}
	rr, err := s.ReadResource(context.Background(), &sdkmcp.ReadResourceParams{URI: "towerd://topics/system_update"})
	if err != nil || len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].Text, `"hostname"`) {
		t.Errorf("read system_update: %v %+v", err, rr)
	}

	// A browser page from another site is refused even with the token.
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site Origin: %d, want 403", resp.StatusCode)
	}
}

// With actions allowed, one tool per declared action; each goes through
// the REST validation and reaches the plugin.
func TestHTTPActions(t *testing.T) {
	t.Parallel()
	a := startAgent(t, "--mcp-read-only=false")
	s, err := connectHTTP(t, a, token)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, a)
	}
	names := waitTool(t, s, "echo_start")
	for _, want := range []string{"array_parity-check-start", "array_parity-check-pause", "echo_ping", "echo_start"} {
		if !slices.Contains(names, want) {
			t.Errorf("action tool %s missing: %v", want, names)
		}
	}

	// The fixture's parity check runs at 40 %: pause reaches the md driver.
	text, isErr := call(t, s, "array_parity-check-pause", nil)
	if isErr || !strings.Contains(text, "paused") {
		t.Errorf("pause: error=%v %s", isErr, text)
	}
	if b, err := os.ReadFile(filepath.Join(a.Root, "proc", "mdcmd")); err != nil || !strings.Contains(string(b), "pause") {
		t.Errorf("mdcmd after pause: %q %v", b, err)
	}
	// Refused by the plugin exactly as over REST (a check is running).
	text, isErr = call(t, s, "array_parity-check-start", map[string]any{"correcting": true})
	if !isErr || !strings.Contains(text, "HTTP 409") {
		t.Errorf("start while running: error=%v %s, want HTTP 409", isErr, text)
	}
	// Third-party action through the generic route; the REST checks apply.
	if text, isErr = call(t, s, "echo_start", map[string]any{"target": "job 7"}); isErr || !strings.Contains(text, "start job 7 ok") {
		t.Errorf("echo_start: error=%v %s", isErr, text)
	}
	if text, isErr = call(t, s, "echo_start", map[string]any{"target": "missing"}); !isErr || !strings.Contains(text, "HTTP 404") {
		t.Errorf("echo_start missing: error=%v %s, want 404", isErr, text)
	}
	if text, isErr = call(t, s, "echo_start", map[string]any{"target": "a\x00b"}); !isErr || !strings.Contains(text, "invalid target") {
		t.Errorf("echo_start control char: error=%v %s, want invalid target", isErr, text)
	}
	if text, isErr = call(t, s, "echo_start", map[string]any{"target": 7}); !isErr {
		t.Errorf("echo_start numeric target accepted: %s", text)
	}
}

// towerd mcp over stdio, driven by the SDK's CommandTransport, in front of
// a running agent.
func TestStdio(t *testing.T) {
	t.Parallel()
	a := startAgent(t)
	connect := func(args ...string) *sdkmcp.ClientSession {
		t.Helper()
		cmd := exec.Command(coretest.Towerd(t), append([]string{"mcp", "--addr", a.Addr}, args...)...)
		cmd.Env = append(os.Environ(), "TOWERD_TOKEN="+token)
		cmd.Stderr = os.Stderr
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "towerd-test", Version: "1"}, nil)
		s, err := c.Connect(ctx, &sdkmcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Fatalf("connect over stdio: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	ro := connect()
	names := waitTool(t, ro, "get_echo")
	if slices.Contains(names, "echo_start") {
		t.Errorf("read-only stdio server lists echo_start: %v", names)
	}
	if text, isErr := call(t, ro, "get_system", nil); isErr || !strings.Contains(text, `"hostname"`) {
		t.Errorf("get_system over stdio: error=%v %s", isErr, text)
	}
	if text, isErr := call(t, ro, "echo_start", map[string]any{"target": "x"}); !isErr || !strings.Contains(text, "read-only") {
		t.Errorf("action over read-only stdio: error=%v %s", isErr, text)
	}

	rw := connect("--read-only=false")
	waitTool(t, rw, "echo_start")
	if text, isErr := call(t, rw, "echo_start", map[string]any{"target": "job 8"}); isErr || !strings.Contains(text, "start job 8 ok") {
		t.Errorf("echo_start over stdio: error=%v %s", isErr, text)
	}
}

func goroutines(t *testing.T, a *coretest.Agent) int {
	t.Helper()
	var rt struct {
		Goroutines int `json:"goroutines"`
	}
	a.GetJSON(t, "/api/v1/debug/runtime", &rt)
	return rt.Goroutines
}

// Off, MCP mounts nothing (/mcp is 404); on but idle, it costs no
// goroutine either: the stateless handler runs only inside requests.
// (mDNS's own off test is in core/mdns: it needs a non-loopback address.)
func TestOffCostsNothing(t *testing.T) {
	t.Parallel()
	off := coretest.Start(t, coretest.Options{Args: []string{"--debug-runtime", "--no-mcp"}})
	on := coretest.Start(t, coretest.Options{Args: []string{"--debug-runtime"}})
	if code, body := off.Do(t, http.MethodPost, "/mcp", `{}`); code != http.StatusNotFound {
		t.Errorf("POST /mcp with --no-mcp: %d %s, want 404", code, body)
	}
	if strings.Contains(off.Log(), "MCP server on") || !strings.Contains(on.Log(), "MCP server on") {
		t.Errorf("MCP state not as flagged:\noff:\n%s\non:\n%s", off, on)
	}
	// Same requests to both, then compare: idle goroutines must match.
	deadline := time.Now().Add(10 * time.Second)
	for {
		gOff, gOn := goroutines(t, off), goroutines(t, on)
		if gOff == gOn {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines with MCP off %d, on (idle) %d", gOff, gOn)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Bound to loopback, as coretest does, mDNS announces nothing.
	if !strings.Contains(on.Log(), "mDNS not announced: the API listens on loopback only") {
		t.Errorf("loopback agent did not skip mDNS:\n%s", on)
	}
}

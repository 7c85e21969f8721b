package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
)

// Control requests are validated at the boundary and forwarded to the
// plugin's Act; errors come back as JSON with the right status. The test
// plugin stands in for docker and vm here (their own tests use the real
// daemons); what is tested is the core's routing and validation.
func TestActionRoutingAndValidation(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "docker", "vm")})
	a.WaitCollector(t, "docker", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	a.WaitCollector(t, "vm", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	id64 := strings.Repeat("ab", 32)
	cases := []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/api/v1/docker/0123456789ab/ping", "", 400, "unknown action"},
		{"/api/v1/docker/0123456789ab/start", "", 200, "start 0123456789ab ok"},
		{"/api/v1/docker/nginx-proxy_1/start", "", 200, "start nginx-proxy_1 ok"},
		{"/api/v1/docker/missing/start", "", 404, "missing"},
		{"/api/v1/docker/0123456789ab/stop", "", 501, "not supported"},
		{"/api/v1/docker/..%2F..%2Fetc/start", "", 400, "invalid container id"},
		{"/api/v1/docker/" + strings.Repeat("a", 300) + "/start", "", 400, "invalid container id"},
		{"/api/v1/docker/-rf/start", "", 400, "invalid container id"},
		{"/api/v1/docker/" + id64 + "/bogus", "", 400, "unknown action"},
		{"/api/v1/vm/My%20VM/start", "", 200, "start My VM ok"},
		{"/api/v1/vm/My%20VM/pause", "", 501, "not supported"},
		{"/api/v1/vm/.hidden/start", "", 400, "invalid VM name"},
		{"/api/v1/vm/bad;name/start", "", 400, "invalid VM name"},
		{"/api/v1/vm/ok/reset", "", 400, "confirm"},
		{"/api/v1/vm/ok/reset", `{"confirm":"yes"`, 400, "not a JSON object"},
		{"/api/v1/disks/disk1/spinup", "", 503, "disabled or not running"},
		{"/api/v1/array/parity-check/start", "", 503, "disabled or not running"},
	}
	for _, tc := range cases {
		code, b := a.Do(t, http.MethodPost, tc.path, tc.body)
		success := `"success":` + strconv.FormatBool(tc.code == 200)
		if code != tc.code || !strings.Contains(string(b), tc.msg) || !strings.Contains(string(b), success) {
			t.Errorf("POST %s: %d %s, want %d containing %q", tc.path, code, b, tc.code, tc.msg)
		}
	}
	if n := a.Collector(t, "docker").Restarts; n != 0 {
		t.Errorf("bad requests restarted the plugin %d times", n)
	}
}

// Any plugin's declared actions are reachable through the generic route.
func TestGenericCollectorActionRoute(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "echo")})
	a.WaitCollector(t, "echo", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	cases := []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/api/v1/collectors/echo/actions/start", `{"target":"job 7"}`, 200, "start job 7 ok"},
		{"/api/v1/collectors/echo/actions/ping", ``, 200, "ping  ok"},
		{"/api/v1/collectors/echo/actions/start", `{"target":"missing"}`, 404, "missing"},
		{"/api/v1/collectors/echo/actions/launch", ``, 501, "not supported"},
		{"/api/v1/collectors/echo/actions/Bad%20Name", ``, 400, "invalid action name"},
		{"/api/v1/collectors/echo/actions/start", `{"target":"a\u0000b"}`, 400, "invalid target"},
		{"/api/v1/collectors/echo/actions/start", `{"target":{"x":1}}`, 400, "must be a string"},
		{"/api/v1/collectors/nope/actions/start", ``, 404, "unknown collector"},
	}
	for _, tc := range cases {
		code, b := a.Do(t, http.MethodPost, tc.path, tc.body)
		if code != tc.code || !strings.Contains(string(b), tc.msg) {
			t.Errorf("POST %s %s: %d %s, want %d containing %q", tc.path, tc.body, code, b, tc.code, tc.msg)
		}
	}
}

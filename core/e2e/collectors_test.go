package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/schema"
)

// Enabling, disabling and changing intervals through REST apply at once
// and survive a restart of towerd.
func TestCollectorManagementPersists(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system", "network")})
	a.WaitCollector(t, "network", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })

	mustOK(t, a, http.MethodPost, "/api/v1/collectors/network/disable", "")
	c := a.Collector(t, "network")
	if c.Enabled || c.Status != "disabled" || c.PID != 0 {
		t.Fatalf("after disable: %+v", c)
	}
	if code, body := a.Do(t, http.MethodGet, "/api/v1/network", ""); code != 200 || string(body) != "[]" {
		t.Errorf("GET /network while disabled = %d %s, want 200 []", code, body)
	}
	mustOK(t, a, http.MethodPatch, "/api/v1/collectors/system/interval", `{"interval":7}`)
	if c := a.Collector(t, "system"); c.IntervalSeconds != 7 {
		t.Errorf("system interval = %d, want 7", c.IntervalSeconds)
	}

	a.Restart(t)
	if c := a.WaitCollector(t, "system", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" }); c.IntervalSeconds != 7 {
		t.Errorf("after restart: system interval = %d, want 7", c.IntervalSeconds)
	}
	if c := a.Collector(t, "network"); c.Enabled || c.Status != "disabled" {
		t.Errorf("after restart: network %+v, want disabled", c)
	}
	for _, pid := range a.PluginProcesses() {
		if pid == a.Collector(t, "system").PID {
			continue
		}
		t.Errorf("a process other than system runs: pid %d", pid)
	}

	ws := a.Dial(t)
	mustOK(t, a, http.MethodPost, "/api/v1/collectors/network/enable", "")
	ev := ws.WaitTopic(t, schema.TopicNetwork, 10*time.Second)
	var ifaces []schema.NetworkInterface
	if err := json.Unmarshal(ev.Data, &ifaces); err != nil {
		t.Fatalf("network payload: %v", err)
	}
	a.Restart(t)
	if c := a.WaitCollector(t, "network", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" }); !c.Enabled {
		t.Errorf("network not enabled after restart: %+v", c)
	}
}

func mustOK(t *testing.T, a *coretest.Agent, method, path, body string) {
	t.Helper()
	code, b := a.Do(t, method, path, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	var resp struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || !resp.Success || resp.Message == "" {
		t.Fatalf("%s %s: body %s is not an action response", method, path, b)
	}
}

// Bad requests get the JSON error shape and the right status.
func TestCollectorManagementErrors(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system")})
	cases := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/api/v1/collectors/nope", "", 404, "unknown collector"},
		{"POST", "/api/v1/collectors/nope/enable", "", 404, "unknown collector"},
		{"POST", "/api/v1/collectors/system/disable", "", 400, "cannot be disabled"},
		{"PATCH", "/api/v1/collectors/system/interval", `{"interval":4}`, 400, "5 to 86400"},
		{"PATCH", "/api/v1/collectors/system/interval", `{"interval":86401}`, 400, "5 to 86400"},
		{"PATCH", "/api/v1/collectors/system/interval", `{"interval":"ten"}`, 400, "interval"},
		{"PATCH", "/api/v1/collectors/system/interval", `{`, 400, "interval"},
		{"PATCH", "/api/v1/collectors/system/interval", ``, 400, "interval"},
		{"PATCH", "/api/v1/collectors/nope/interval", `{"interval":10}`, 404, "unknown collector"},
		{"GET", "/api/v1/nothing-here", "", 404, "no such endpoint"},
		{"DELETE", "/api/v1/system", "", 405, "not allowed"},
	}
	for _, tc := range cases {
		code, b := a.Do(t, tc.method, tc.path, tc.body)
		var e struct {
			Success *bool  `json:"success"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Success == nil || *e.Success {
			t.Errorf("%s %s: body %s is not a JSON error", tc.method, tc.path, b)
		}
		if code != tc.code || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s %s %s: got %d %q, want %d containing %q", tc.method, tc.path, tc.body, code, e.Message, tc.code, tc.msg)
		}
	}
}

// GETs answer from defaults before any collect and for absent collectors,
// with the shapes clients expect.
func TestDefaultsBeforeFirstCollect(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{})
	for path, want := range map[string]string{
		"/api/v1/array": `{"state":"unknown"}`, "/api/v1/ups": `{"connected":false}`,
		"/api/v1/disks": `[]`, "/api/v1/shares": `[]`, "/api/v1/docker": `[]`, "/api/v1/vm": `[]`,
		"/api/v1/gpu": `[]`, "/api/v1/network": `[]`, "/api/v1/health": `{"status":"ok"}`,
	} {
		code, b := a.Do(t, http.MethodGet, path, "")
		if code != 200 || string(b) != want {
			t.Errorf("GET %s = %d %s, want 200 %s", path, code, b, want)
		}
	}
	// No docker.cfg under the empty root: Docker is off, as on Unraid.
	if code, b := a.Do(t, http.MethodGet, "/api/v1/settings/docker", ""); code != 200 || !strings.HasPrefix(string(b), `{"enabled":false,`) {
		t.Errorf("GET /settings/docker = %d %s", code, b)
	}
	var sys map[string]any
	a.GetJSON(t, "/api/v1/system", &sys)
	if sys["hostname"] == "" || sys["hostname"] == nil {
		t.Errorf("system default lacks hostname: %v", sys)
	}
	var list struct {
		Collectors []coretest.Collector `json:"collectors"`
		Total      int                  `json:"total"`
	}
	a.GetJSON(t, "/api/v1/collectors/status", &list)
	if list.Total != 9 || len(list.Collectors) != 9 {
		t.Fatalf("collectors/status lists %d, want the 9 built-ins", list.Total)
	}
	for _, c := range list.Collectors {
		if c.Status != "not_installed" {
			t.Errorf("%s: status %q with no plugin installed", c.Name, c.Status)
		}
	}
}

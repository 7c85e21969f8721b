package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk"
)

// recordingControl answers collector calls from a list and records Act.
type recordingControl struct {
	list []CollectorStatus
	acts []string
	msg  string
	err  error
}

func (c *recordingControl) Collectors() []CollectorStatus { return c.list }
func (c *recordingControl) Collector(name string) (CollectorStatus, error) {
	for _, s := range c.list {
		if s.Name == name {
			return s, nil
		}
	}
	return CollectorStatus{}, ErrUnknownCollector
}
func (c *recordingControl) SetEnabled(string, bool) error           { return nil }
func (c *recordingControl) SetInterval(string, time.Duration) error { return nil }
func (c *recordingControl) Act(_ context.Context, collector string, a sdk.Action) (string, error) {
	b, _ := json.Marshal(a.Params)
	c.acts = append(c.acts, fmt.Sprintf("%s/%s %s %s", collector, a.Name, a.Target, b))
	return c.msg, c.err
}

func call(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return rec.Code, string(b)
}

// Before any collect every GET answers 200 with JSON of the right kind:
// an array where the integration expects a list.
func TestBundleViewsBeforeData(t *testing.T) {
	s := New(bus.New(), &recordingControl{}, http.NotFoundHandler())
	lists := map[string]bool{"/notifications/unread": true, "/notifications/archive": true, "/user-scripts": true, "/unassigned/devices": true,
		"/unassigned/remote-shares": true, "/zfs/pools": true, "/zfs/datasets": true, "/zfs/snapshots": true}
	for _, v := range bundleViews {
		if strings.Contains(v.path, "{") {
			continue
		}
		code, body := call(t, s, "GET", Prefix+v.path, "")
		var x any
		if code != 200 || json.Unmarshal([]byte(body), &x) != nil {
			t.Errorf("GET %s: %d %s", v.path, code, body)
			continue
		}
		if _, isList := x.([]any); isList != lists[v.path] {
			t.Errorf("GET %s: %s (list expected: %v)", v.path, body, lists[v.path])
		}
	}
	for _, p := range []string{"/updates", "/diagnostics/self-test"} {
		if code, body := call(t, s, "GET", Prefix+p, ""); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	if code, _ := call(t, s, "GET", Prefix+"/notifications/x.notify", ""); code != 404 {
		t.Errorf("item before data: %d", code)
	}
}

const notifPayload = `{"overview":{"unread":{"info":1,"warning":0,"alert":1,"total":2},"archive":{"info":1,"warning":0,"alert":0,"total":1}},
"notifications":[{"id":"A_2.notify","importance":"alert","type":"unread"},{"id":"N_1.notify","importance":"normal","type":"unread"},
{"id":"I_0.notify","importance":"info","type":"archive"}],"total_count":3,"timestamp":"2025-11-25T00:00:00Z"}`

func TestBundleViews(t *testing.T) {
	b := bus.New()
	b.Publish("notifications_update", []byte(notifPayload))
	b.Publish("mover_update", []byte(`{"active":true,"schedule":"0 3 * * *","logging":false,"cache_floor_kb":5,"last_run_files_moved":3,"timestamp":"t"}`))
	b.Publish("os_update_update", []byte(`{"current_version":"7.3.1","latest_version":"7.3.2","update_available":true,"timestamp":"t"}`))
	b.Publish("plugins_update", []byte(`{"plugins":[{"name":"a","update_available":true},{"name":"b","update_available":false}],"timestamp":"t"}`))
	s := New(b, &recordingControl{}, http.NotFoundHandler())

	ids := func(body string) string {
		var p struct {
			Notifications []struct{ ID string } `json:"notifications"`
		}
		var list []struct{ ID string }
		if strings.HasPrefix(body, "[") {
			_ = json.Unmarshal([]byte(body), &list)
		} else {
			_ = json.Unmarshal([]byte(body), &p)
			list = p.Notifications
		}
		var out []string
		for _, n := range list {
			out = append(out, n.ID)
		}
		return strings.Join(out, ",")
	}
	for path, want := range map[string]string{
		"/notifications":                  "A_2.notify,N_1.notify,I_0.notify",
		"/notifications?importance=info":  "N_1.notify,I_0.notify",
		"/notifications?importance=ALERT": "A_2.notify",
		"/notifications/unread":           "A_2.notify,N_1.notify",
		"/notifications/archive":          "I_0.notify",
	} {
		if code, body := call(t, s, "GET", Prefix+path, ""); code != 200 || ids(body) != want {
			t.Errorf("GET %s: %d %s, want %s", path, code, ids(body), want)
		}
	}
	if code, _ := call(t, s, "GET", Prefix+"/notifications?importance=%3Cx%3E", ""); code != 400 {
		t.Errorf("bad importance: %d", code)
	}
	if code, body := call(t, s, "GET", Prefix+"/notifications/overview", ""); code != 200 || !strings.Contains(body, `"unread":{"info":1,"warning":0,"alert":1,"total":2}`) {
		t.Errorf("overview: %d %s", code, body)
	}
	if code, body := call(t, s, "GET", Prefix+"/notifications/N_1.notify", ""); code != 200 || !strings.Contains(body, `"importance":"normal"`) {
		t.Errorf("item: %d %s", code, body)
	}
	if code, _ := call(t, s, "GET", Prefix+"/notifications/nope.notify", ""); code != 404 {
		t.Errorf("unknown item: %d", code)
	}
	if _, body := call(t, s, "GET", Prefix+"/settings/mover", ""); body != `{"active":true,"cache_floor_kb":5,"logging":false,"schedule":"0 3 * * *","timestamp":"t"}` {
		t.Errorf("settings/mover: %s", body)
	}
	_, body := call(t, s, "GET", Prefix+"/updates", "")
	var u map[string]any
	_ = json.Unmarshal([]byte(body), &u)
	if u["os_update_available"] != true || u["latest_version"] != "7.3.2" || u["plugin_updates_count"] != float64(1) || u["total_plugins"] != float64(2) {
		t.Errorf("updates: %s", body)
	}
	// GET on the parity paths no longer collides with POST /array/parity-check/{action}.
	if code, body := call(t, s, "GET", Prefix+"/array/parity-check/history", ""); code != 200 || body != `{"records":[]}` {
		t.Errorf("history: %d %s", code, body)
	}
	if code, _ := call(t, s, "GET", Prefix+"/array/parity-check/start", ""); code != 405 {
		t.Errorf("GET parity start: %d", code)
	}
}

func TestBundleActions(t *testing.T) {
	ctl := &recordingControl{msg: "done"}
	s := New(bus.New(), ctl, http.NotFoundHandler())
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/notifications", `{"title":"t","importance":"alert"}`, `notification/create  {"importance":"alert","title":"t"}`},
		{"POST", "/notifications/archive/all", ``, `notification/archive-all  {}`},
		{"POST", "/notifications/A_1.notify/archive", ``, `notification/archive A_1.notify {}`},
		{"POST", "/notifications/A_1.notify/unarchive", ``, `notification/unarchive A_1.notify {}`},
		{"DELETE", "/notifications/A_1.notify", ``, `notification/delete A_1.notify {}`},
		{"POST", "/fans/speed", `{"fan_id":"hwmon2_fan1","speed_percent":40}`, `fans/speed  {"fan_id":"hwmon2_fan1","speed_percent":"40"}`},
		{"POST", "/unassigned/remote-shares/mount", `{"source":"//nas/x"}`, `unassigned/mount  {"source":"//nas/x"}`},
		{"POST", "/unassigned/remote-shares/unmount", `{"source":"//nas/x"}`, `unassigned/unmount  {"source":"//nas/x"}`},
	} {
		ctl.acts = nil
		code, body := call(t, s, tc.method, Prefix+tc.path, tc.body)
		if code != 200 || !strings.Contains(body, `"success":true`) || len(ctl.acts) != 1 || ctl.acts[0] != tc.want {
			t.Errorf("%s %s: %d %s, acts %q want %q", tc.method, tc.path, code, body, ctl.acts, tc.want)
		}
	}
	ctl.msg = `{"message":"Script x completed successfully","output":"hi\n","exit_code":0}`
	code, body := call(t, s, "POST", Prefix+"/user-scripts/x/execute", `{"background":false,"wait":true}`)
	var r map[string]any
	_ = json.Unmarshal([]byte(body), &r)
	if code != 200 || r["success"] != true || r["output"] != "hi\n" || r["exit_code"] != float64(0) || r["message"] != "Script x completed successfully" {
		t.Errorf("execute: %d %s", code, body)
	}
	for _, tc := range []struct {
		err  error
		code int
	}{{sdk.ErrInvalidArgument, 400}, {sdk.ErrNotFound, 404}, {sdk.ErrConflict, 409}, {sdk.ErrUnavailable, 503}} {
		ctl.err = fmt.Errorf("nope: %w", tc.err)
		if code, body := call(t, s, "POST", Prefix+"/fans/speed", `{"fan_id":"x","speed_percent":0}`); code != tc.code || !strings.Contains(body, `"success":false`) {
			t.Errorf("error %v: %d %s", tc.err, code, body)
		}
	}
	if code, _ := call(t, s, "POST", Prefix+"/fans/speed", `not json`); code != 400 {
		t.Errorf("bad body: %d", code)
	}
	if code, _ := call(t, s, "POST", Prefix+"/user-scripts/a%2Fb/execute", ``); code != 400 {
		t.Errorf("encoded slash in a script name: %d", code)
	}
}

func TestSelfTest(t *testing.T) {
	ctl := &recordingControl{list: []CollectorStatus{
		{Name: "system", Enabled: true, Installed: true, Status: "running"},
		{Name: "gpu", Enabled: false, Installed: true, Status: "disabled"},
		{Name: "docker", Enabled: true, Installed: true, Status: "running", LastError: "docker: socket gone"},
		{Name: "array", Enabled: true, Installed: true, Status: "running"},
	}}
	s := New(bus.New(), ctl, http.NotFoundHandler())
	_, body := call(t, s, "GET", Prefix+"/diagnostics/self-test", "")
	var r struct {
		Overall    string `json:"overall_state"`
		Subsystems []struct {
			Subsystem, State, SourceStatus string
		} `json:"subsystems"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Overall != "degraded" || len(r.Subsystems) != 4 || r.Subsystems[0].Subsystem != "array" || r.Subsystems[1].State != "degraded" || r.Subsystems[2].State != "disabled" {
		t.Errorf("self-test: %s", body)
	}
}

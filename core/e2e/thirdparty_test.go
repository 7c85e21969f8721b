package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// collectorList is GET /api/v1/collectors and /collectors/status.
type collectorList struct {
	Collectors []struct {
		coretest.Collector
		Builtin   bool `json:"builtin"`
		Installed bool `json:"installed"`
	} `json:"collectors"`
	Total int `json:"total"`
}

// A third-party plugin is listed with its version, topic and state, its
// latest payload is served at /collectors/{name}/data and it is broadcast
// on the WebSocket in the same envelope as the built-ins, topic filter
// included.
func TestThirdPartyPluginServedLikeBuiltins(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, "system"), coretest.TestPlugins(t, "echo")),
	})
	ws := a.Dial(t)
	ws.Subscribe(t, "echo_update")
	a.WaitCollector(t, "echo", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })

	for _, path := range []string{"/api/v1/collectors", "/api/v1/collectors/status"} {
		var list collectorList
		a.GetJSON(t, path, &list)
		if list.Total != 10 || len(list.Collectors) != 10 {
			t.Fatalf("%s lists %d collectors, want the 9 built-ins and echo", path, list.Total)
		}
		last := list.Collectors[9] // built-ins first, then third-party plugins
		if last.Name != "echo" || last.Builtin || !last.Installed || !last.Enabled ||
			last.Version != "9.9.9" || last.Topic != "echo_update" || last.Status != "running" || last.PID == 0 {
			t.Errorf("%s: third-party entry %+v", path, last)
		}
	}

	ev := ws.WaitTopic(t, "echo_update", 10*time.Second)
	if ev.Event != "update" || ev.Timestamp.IsZero() {
		t.Errorf("envelope %+v, want event update with a timestamp", ev)
	}
	var got struct {
		N         int       `json:"n"`
		Mode      string    `json:"mode"`
		Timestamp time.Time `json:"timestamp"`
	}
	if err := json.Unmarshal(ev.Data, &got); err != nil || got.Mode != "echo" || got.N < 1 {
		t.Errorf("echo event data %s (%v)", ev.Data, err)
	}
	code, body := a.Do(t, http.MethodGet, "/api/v1/collectors/echo/data", "")
	if code != http.StatusOK {
		t.Fatalf("GET /collectors/echo/data: %d %s", code, body)
	}
	var data struct {
		Mode      string `json:"mode"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &data); err != nil || data.Mode != "echo" || data.Timestamp == "" {
		t.Errorf("GET /collectors/echo/data = %s", body)
	}
	code, body = a.Do(t, http.MethodGet, "/api/v1/collectors/nosuch/data", "")
	if code != http.StatusNotFound || !strings.Contains(string(body), "nosuch") {
		t.Errorf("GET /collectors/nosuch/data = %d %s, want 404 naming it", code, body)
	}
}

// A plugin of another protocol version is refused at once — failed, no
// retry storm — with a reason that says which side to upgrade, in the log
// (once) and in last_error.
func TestProtocolVersionMismatchIsRefused(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "newproto", "oldproto")})
	v := sdk.ProtocolVersion
	cases := map[string][]string{
		"newproto": {fmt.Sprintf("protocol version %d, but this towerd speaks only version %d", v+1, v), "upgrade towerd"},
		"oldproto": {fmt.Sprintf("protocol version %d, which this towerd no longer supports (it speaks version %d)", v-1, v), "rebuild the plugin"},
	}
	start := time.Now()
	for name, wants := range cases {
		c := a.WaitCollector(t, name, 10*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
		for _, want := range wants {
			if !strings.Contains(c.LastError, want) {
				t.Errorf("%s: last_error %q does not say %q", name, c.LastError, want)
			}
		}
		if c.Restarts != 0 || c.PID != 0 || c.Version != "" {
			t.Errorf("%s: %+v, want never started", name, c)
		}
	}
	// Failed on the first attempt: well before the 100+200+400+800 ms of
	// backoff that five ordinary failures would take.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("refusal took %v", took)
	}
	for name := range cases {
		if n := strings.Count(a.Log(), "plugin."+name+": plugin refused"); n != 1 {
			t.Errorf("%s: %d \"plugin refused\" log lines, want 1:\n%s", name, n, a.Log())
		}
	}
}

// Two plugins claiming one topic: exactly one runs, the other is refused
// naming the first. A plugin claiming a built-in's topic is refused even
// though it might start first, and a plugin whose file name differs from
// the name it describes is refused.
func TestTopicAndNameConflictsAreRefused(t *testing.T) {
	t.Parallel()
	sys := coretest.Plugins(t, "system")["system"]
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Merge(
		coretest.TestPlugins(t, "sametopic1", "sametopic2", "systopic"),
		map[string]string{"system": sys, "mysys": sys},
	)})
	var running, refused []coretest.Collector
	for _, name := range []string{"sametopic1", "sametopic2"} {
		c := a.WaitCollector(t, name, 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" || c.Status == "failed" })
		if c.Status == "running" {
			running = append(running, c)
		} else {
			refused = append(refused, c)
		}
	}
	if len(running) != 1 || len(refused) != 1 {
		t.Fatalf("same topic: running %+v, refused %+v; want one of each", running, refused)
	}
	if want := `topic "sametopic_update" is already served by plugin "` + running[0].Name + `"`; !strings.Contains(refused[0].LastError, want) {
		t.Errorf("%s: last_error %q, want %q", refused[0].Name, refused[0].LastError, want)
	}
	ws := a.Dial(t)
	ev := ws.WaitTopic(t, "sametopic_update", 10*time.Second)
	var data struct{ N int }
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.N < 1 {
		t.Errorf("sametopic_update data %s", ev.Data)
	}

	c := a.WaitCollector(t, "systopic", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
	if want := `topic "system_update" belongs to the built-in collector "system"`; !strings.Contains(c.LastError, want) {
		t.Errorf("systopic: last_error %q, want %q", c.LastError, want)
	}
	c = a.WaitCollector(t, "mysys", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
	if want := `plugin file "mysys" calls itself "system"`; !strings.Contains(c.LastError, want) {
		t.Errorf("mysys: last_error %q, want %q", c.LastError, want)
	}
	a.WaitCollector(t, "system", 10*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	var s schema.System
	a.GetJSON(t, "/api/v1/system", &s)
	if s.Hostname == "" {
		t.Errorf("/api/v1/system is not the built-in's payload: %+v", s)
	}
}

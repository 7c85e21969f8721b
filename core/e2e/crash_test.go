package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/schema"
)

// A plugin killed with SIGKILL is restarted, publishes again within a
// second of its restart, and no WebSocket client notices anything else.
func TestCrashedPluginRestartsWithoutDisturbingClients(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system")})
	var clients []*coretest.WS
	for i := 0; i < 3; i++ {
		ws := a.Dial(t)
		ws.WaitTopic(t, schema.TopicSystem, 10*time.Second)
		clients = append(clients, ws)
	}
	before := a.WaitCollector(t, "system", 5*time.Second, func(c coretest.Collector) bool { return c.Status == "running" && c.PID > 0 })

	killed := time.Now()
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	after := a.WaitCollector(t, "system", 5*time.Second, func(c coretest.Collector) bool {
		return c.Status == "running" && c.PID != before.PID && c.PID > 0
	})
	restarted := time.Now()
	if after.Restarts != before.Restarts+1 {
		t.Errorf("restarts = %d, want %d", after.Restarts, before.Restarts+1)
	}
	for i, ws := range clients {
		ev := ws.WaitTopic(t, schema.TopicSystem, 3*time.Second)
		for !ev.Timestamp.After(killed) { // skip events queued before the kill
			ev = ws.WaitTopic(t, schema.TopicSystem, 3*time.Second)
		}
		if lag := ev.Received.Sub(restarted); lag > time.Second {
			t.Errorf("client %d: first system_update %v after the restart, want < 1s", i, lag)
		}
		t.Logf("client %d: kill → next event %v", i, ev.Received.Sub(killed).Round(time.Millisecond))
		if closed, err := ws.Closed(); closed {
			t.Errorf("client %d was disconnected: %v", i, err)
		}
	}
}

// A plugin whose Collect never returns is killed after its deadline and
// restarted, and the other collectors keep their cadence meanwhile.
func TestHungPluginIsKilledAndOthersKeepCadence(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, "system"), coretest.TestPlugins(t, "hang")),
		Config:  `{"collectors":{"hang":{"timeout_seconds":1}}}`,
		Args:    []string{"--interval-system", "5"},
	})
	ws := a.Dial(t)
	ws.Subscribe(t, schema.TopicSystem)
	first := ws.WaitTopic(t, schema.TopicSystem, 10*time.Second)

	hung := a.WaitCollector(t, "hang", 10*time.Second, func(c coretest.Collector) bool { return c.Restarts >= 1 })
	if !strings.Contains(hung.LastError, "deadline") {
		t.Errorf("hang last_error = %q, want it to name the deadline", hung.LastError)
	}
	// Two more system ticks while the hung plugin is killed over and over.
	var times []time.Time
	for len(times) < 2 {
		ev := ws.WaitTopic(t, schema.TopicSystem, 8*time.Second)
		if ev.Timestamp.After(first.Timestamp) {
			times = append(times, ev.Timestamp)
		}
	}
	if gap := times[1].Sub(times[0]); gap < 4500*time.Millisecond || gap > 5500*time.Millisecond {
		t.Errorf("system_update gap %v while another plugin hangs, want 5s ± 0.5s", gap)
	}
	if n := len(a.PluginProcesses()); n > 2 {
		t.Errorf("%d plugin processes alive, want at most 2 (no leaked hung processes)", n)
	}
}

// Plugins that fail the handshake are reported failed with a reason, and
// the core keeps serving.
func TestBadPluginsAreReportedFailed(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, "system"), coretest.TestPlugins(t, "junk", "badcookie", "exit")),
	})
	reasons := map[string]string{
		"junk":      "unrecognized remote plugin message",
		"badcookie": "this binary is a plugin",
		"exit":      "exiting at once on purpose",
	}
	for name, want := range reasons {
		c := a.WaitCollector(t, name, 15*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
		if !strings.Contains(strings.ToLower(c.LastError), want) {
			t.Errorf("%s: last_error %q does not mention %q", name, c.LastError, want)
		}
	}
	var sys schema.System
	a.GetJSON(t, "/api/v1/system", &sys)
	if sys.Hostname == "" {
		t.Errorf("core stopped serving: %+v", sys)
	}
	ws := a.Dial(t)
	ws.WaitTopic(t, schema.TopicSystem, 10*time.Second)
}

// Payloads that break the contract are refused and counted; the plugin
// keeps running; a plugin chatting on stdout after the handshake is fine.
func TestBadPayloadsAreRefused(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "badjson", "big", "chatty"),
		Config:  `{"collectors":{"big":{"options":{"size_bytes":"9000000"}}}}`,
	})
	for name, want := range map[string]string{"badjson": "not valid JSON", "big": "exceeds the limit"} {
		c := a.WaitCollector(t, name, 10*time.Second, func(c coretest.Collector) bool { return c.ErrorCount > 0 })
		if !strings.Contains(c.LastError, want) || c.Status != "running" {
			t.Errorf("%s: status %s, last_error %q; want running and %q", name, c.Status, c.LastError, want)
		}
		if code, body := a.Do(t, http.MethodGet, "/api/v1/collectors/"+name+"/data", ""); code != http.StatusNotFound {
			t.Errorf("%s: data served despite refusal: %d %s", name, code, body)
		}
	}
	ws := a.Dial(t)
	ev := ws.WaitTopic(t, "chatty_update", 10*time.Second)
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil || data["mode"] != "chatty" {
		t.Errorf("chatty payload %s", ev.Data)
	}
}

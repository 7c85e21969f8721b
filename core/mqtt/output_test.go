package mqtt

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func fixtureDisks(ids ...string) []byte {
	var ds []schema.Disk
	for i, id := range ids {
		d := schema.Disk{ID: id, Name: id, Device: fmt.Sprintf("sd%c", 'b'+i), Role: "data", Filesystem: "xfs",
			SizeBytes: 4e12, UsedBytes: 1e12, UsagePercent: 25, TemperatureCelsius: 31, SpinState: "active", SMARTStatus: "PASSED"}
		if id == "parity" {
			d.Role, d.Filesystem, d.UsedBytes = "parity", "", 0
		}
		ds = append(ds, d)
	}
	return mustJSON(ds)
}

// feed publishes a small server's worth of payloads.
func feed(b *bus.Bus) {
	b.Publish(schema.TopicSystem, mustJSON(schema.System{Hostname: "tower", Version: "7.1.4", CPUUsagePercent: 12.5, ServerModel: "Custom"}))
	b.Publish(schema.TopicArray, mustJSON(schema.Array{State: "STARTED", ParityValid: true, UsedPercent: 40}))
	b.Publish(schema.TopicDisks, fixtureDisks("parity", "disk1", "disk2"))
	b.Publish(schema.TopicContainers, mustJSON([]schema.Container{{ID: "0123456789ab", Name: "plex", State: "running"}}))
	b.Publish(schema.TopicVMs, mustJSON([]schema.VM{{Name: "Windows 11", State: "shut off"}}))
	b.Publish(schema.TopicUPS, mustJSON(schema.UPS{Connected: true, BatteryChargePercent: 100}))
	b.Publish(schema.TopicGPU, mustJSON([]schema.GPU{{Index: 0, Vendor: "intel", Name: "UHD 630"}}))
	b.Publish(schema.TopicNetwork, mustJSON([]schema.NetworkInterface{{Name: "eth0", State: "up"}}))
	b.Publish(schema.TopicShares, mustJSON([]schema.Share{{Name: "appdata"}, {Name: "my share"}}))
}

func start(t *testing.T, o Options) (*Output, *plugintest.SyncBuffer) {
	t.Helper()
	logs := &plugintest.SyncBuffer{}
	o.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs})
	if o.Hostname == "" {
		o.Hostname = "tower"
	}
	if o.RetryMin == 0 {
		o.RetryMin, o.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	}
	out, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	out.Start()
	t.Cleanup(out.Stop)
	return out, logs
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// State, per-item topics, discovery configs with one device, removal of a
// disk's entities, third-party topics and "offline" on stop, against a
// real Mosquitto.
func TestStateAndDiscovery(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	bs := bus.New()
	feed(bs) // before start: sent from the cache on connect
	out, _ := start(t, Options{Broker: br.URL, Bus: bs, Discovery: true, StatusURL: "http://tower:8043/", Version: "1.2.3"})

	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "unraid/tower/system", 5*time.Second, func(b []byte) bool { return strings.Contains(string(b), `"cpu_usage_percent":12.5`) })
	w.wait(t, "unraid/tower/disks/disk1", 5*time.Second, nil)
	w.wait(t, "unraid/tower/docker/plex", 5*time.Second, nil)
	w.wait(t, "unraid/tower/vm/Windows 11", 5*time.Second, nil)
	w.wait(t, "unraid/tower/shares/my share", 5*time.Second, nil)
	w.wait(t, "unraid/tower/gpu/0", 5*time.Second, nil)
	w.wait(t, "unraid/tower/network/eth0", 5*time.Second, nil)

	cfg := decode(t, w.wait(t, "homeassistant/sensor/towerd_tower/disk_disk1_temperature/config", 5*time.Second, nil))
	if cfg["unique_id"] != "towerd_tower_disk_disk1_temperature" || cfg["state_topic"] != "unraid/tower/disks/disk1" ||
		cfg["availability_topic"] != "unraid/tower/availability" || cfg["device_class"] != "temperature" {
		t.Errorf("disk1 temperature config: %v", cfg)
	}
	dev, _ := cfg["device"].(map[string]any)
	if dev["name"] != "tower" || dev["configuration_url"] != "http://tower:8043/" || dev["sw_version"] != "Unraid 7.1.4" ||
		dev["model"] != "Custom" || fmt.Sprint(dev["identifiers"]) != "[towerd_tower]" {
		t.Errorf("device: %v", dev)
	}
	sw := decode(t, w.wait(t, "homeassistant/switch/towerd_tower/container_plex_running/config", 5*time.Second, nil))
	if sw["command_topic"] != "unraid/tower/cmd/docker/plex" || sw["payload_on"] != "start" || sw["state_topic"] != "unraid/tower/docker/plex" {
		t.Errorf("container switch: %v", sw)
	}
	w.wait(t, "homeassistant/button/towerd_tower/disk_disk1_spindown/config", 5*time.Second, nil)
	w.wait(t, "homeassistant/binary_sensor/towerd_tower/parity_valid/config", 5*time.Second, nil)
	w.wait(t, "homeassistant/sensor/towerd_tower/ups_battery/config", 5*time.Second, nil)
	if _, ok := w.get("homeassistant/sensor/towerd_tower/disk_parity_usage/config"); ok {
		t.Error("parity disk got a usage sensor")
	}

	// Every config is valid JSON with a unique unique_id and a state or
	// command topic under this server.
	plugintest.Eventually(t, 5*time.Second, func() bool { return len(w.topics("homeassistant/")) == countEntities(out) },
		"configs on the broker %d, want %d", len(w.topics("homeassistant/")), countEntities(out))
	ids := map[string]bool{}
	for topic, b := range w.topics("homeassistant/") {
		c := decode(t, b)
		id, _ := c["unique_id"].(string)
		if ids[id] || !strings.HasPrefix(id, "towerd_tower_") {
			t.Errorf("%s: unique_id %q duplicate or not this server's", topic, id)
		}
		ids[id] = true
		st, _ := c["state_topic"].(string)
		ct, _ := c["command_topic"].(string)
		if !strings.HasPrefix(st+ct, "unraid/tower/") {
			t.Errorf("%s: no topic of this server: %v", topic, c)
		}
	}
	t.Logf("%d discovery entities for the test payloads", len(ids))

	// disk2 goes away: its item topic and its entities are cleared.
	bs.Publish(schema.TopicDisks, fixtureDisks("parity", "disk1"))
	plugintest.Eventually(t, 5*time.Second, func() bool {
		_, a := w.get("homeassistant/sensor/towerd_tower/disk_disk2_temperature/config")
		_, b := w.get("unraid/tower/disks/disk2")
		return !a && !b
	}, "disk2's config and item topic were not cleared")
	w.mu.Lock()
	cleared := w.cleared["homeassistant/button/towerd_tower/disk_disk2_spinup/config"]
	w.mu.Unlock()
	if !cleared {
		t.Error("disk2's spin-up button was not removed with an empty retained config")
	}
	if _, ok := w.get("homeassistant/sensor/towerd_tower/disk_disk1_temperature/config"); !ok {
		t.Error("disk1's config went away too")
	}

	// A third-party topic lands under topics/.
	bs.Publish("uptime_update", []byte(`{"up":1}`))
	w.wait(t, "unraid/tower/topics/uptime_update", 5*time.Second, func(b []byte) bool { return string(b) == `{"up":1}` })

	// A topic the bus forgets (its collector was disabled) is cleared
	// after the next event: state and configs, on the broker too.
	bs.Forget(schema.TopicUPS)
	bs.Forget("uptime_update")
	bs.Publish(schema.TopicArray, mustJSON(schema.Array{State: "STARTED"}))
	plugintest.Eventually(t, 5*time.Second, func() bool {
		_, a := w.get("homeassistant/sensor/towerd_tower/ups_battery/config")
		_, b := w.get("unraid/tower/ups")
		_, c := w.get("unraid/tower/topics/uptime_update")
		return !a && !b && !c && len(w.topics("homeassistant/")) == countEntities(out)
	}, "the forgotten UPS and third-party topics were not cleared")
	if _, ok := w.get("homeassistant/sensor/towerd_tower/array_state/config"); !ok {
		t.Error("the array's configs went away with the UPS's")
	}

	out.Stop()
	w.wait(t, "unraid/tower/availability", 5*time.Second, func(b []byte) bool { return string(b) == Offline })
}

// countEntities is how many configs the output believes are published.
func countEntities(o *Output) int { return o.Stats().Entities }

// control records what reaches the agent through the REST handlers.
type control struct {
	mu    sync.Mutex
	calls []string
}

func (c *control) Collectors() []api.CollectorStatus { return nil }
func (c *control) Collector(name string) (api.CollectorStatus, error) {
	switch name {
	case "docker", "vm", "array", "disk", "gpu", "system":
		return api.CollectorStatus{Name: name, Enabled: true}, nil
	}
	return api.CollectorStatus{}, fmt.Errorf("%w %q", api.ErrUnknownCollector, name)
}
func (c *control) SetEnabled(name string, on bool) error {
	if _, err := c.Collector(name); err != nil {
		return err
	}
	if name == "system" && !on {
		return fmt.Errorf("%s: %w", name, api.ErrRequired)
	}
	c.record(fmt.Sprintf("enabled %s %v", name, on))
	return nil
}
func (c *control) SetInterval(name string, d time.Duration) error {
	c.record(fmt.Sprintf("interval %s %v", name, d))
	return nil
}
func (c *control) Act(_ context.Context, coll string, a sdk.Action) (string, error) {
	c.record(fmt.Sprintf("act %s %s %q %v", coll, a.Name, a.Target, a.Params))
	return a.Name + " " + a.Target + " ok", nil
}
func (c *control) record(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}
func (c *control) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.calls) == 0 {
		return ""
	}
	return c.calls[len(c.calls)-1]
}

// Every command answers exactly what the same REST request answers (the
// REST handlers serve both), reaches the control the same way, and
// anything that is not a command is refused before the API.
func TestCommandsAnswerAsREST(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	bs := bus.New()
	ctl := &control{}
	srv := api.New(bs, ctl, http.NotFoundHandler())
	_, _ = start(t, Options{Broker: br.URL, Bus: bs, Discovery: true, Commands: srv})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })

	cases := []struct {
		cmd, payload       string
		method, path, body string
		wantCall           string
	}{
		{"docker/plex/restart", "", "POST", "/api/v1/docker/plex/restart", "", `act docker restart "plex" map[]`},
		{"docker/plex", "stop", "POST", "/api/v1/docker/plex/stop", "", `act docker stop "plex" map[]`},
		{"docker/plex/pause", "{}", "POST", "/api/v1/docker/plex/pause", "{}", `act docker pause "plex" map[]`},
		{"docker/-rf/start", "", "POST", "/api/v1/docker/-rf/start", "", ""},
		{"docker/plex/explode", "", "POST", "/api/v1/docker/plex/explode", "", ""},
		{"vm/Windows 11/start", "", "POST", "/api/v1/vm/Windows%2011/start", "", `act vm start "Windows 11" map[]`},
		{"vm/Windows 11/reset", "{}", "POST", "/api/v1/vm/Windows%2011/reset", "{}", ""},
		{"vm/Windows 11/reset", `{"confirm":true}`, "POST", "/api/v1/vm/Windows%2011/reset", `{"confirm":true}`, `act vm reset "Windows 11" map[confirm:true]`},
		{"vm/bad;name/start", "", "POST", "/api/v1/vm/bad;name/start", "", ""},
		{"disks/disk1/spindown", "{}", "POST", "/api/v1/disks/disk1/spindown", "{}", `act disk spindown "disk1" map[]`},
		{"array/parity-check/start", `{"correcting":true}`, "POST", "/api/v1/array/parity-check/start?correcting=true", "", `act array parity-check-start "" map[correcting:true]`},
		{"array/parity-check/stop", "{}", "POST", "/api/v1/array/parity-check/stop", "{}", `act array parity-check-stop "" map[]`},
		{"collectors/gpu/disable", "", "POST", "/api/v1/collectors/gpu/disable", "", "enabled gpu false"},
		{"collectors/gpu", "enable", "POST", "/api/v1/collectors/gpu/enable", "", "enabled gpu true"},
		{"collectors/system/disable", "", "POST", "/api/v1/collectors/system/disable", "", ""},
		{"collectors/nope/disable", "", "POST", "/api/v1/collectors/nope/disable", "", ""},
		{"collectors/gpu/interval", `{"interval":3}`, "PATCH", "/api/v1/collectors/gpu/interval", `{"interval":3}`, ""},
		{"collectors/gpu/interval", `{"interval":30}`, "PATCH", "/api/v1/collectors/gpu/interval", `{"interval":30}`, "interval gpu 30s"},
		{"docker/plex/restart", "not json", "POST", "/api/v1/docker/plex/restart", "not json", ""},
	}
	for _, tc := range cases {
		before := ctl.last()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		srv.ServeHTTP(rec, req)
		var rest map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &rest)
		afterREST := ctl.last()

		w.publish(t, "unraid/tower/cmd/"+tc.cmd, tc.payload)
		got := w.result(t, tc.cmd, 10*time.Second)
		if int(got["status"].(float64)) != rec.Code || got["message"] != rest["message"] || got["success"] != rest["success"] {
			t.Errorf("cmd/%s %q: got %v, REST %s %s answered %d %v", tc.cmd, tc.payload, got, tc.method, tc.path, rec.Code, rest)
		}
		if tc.wantCall != "" && (afterREST != tc.wantCall || ctl.last() != tc.wantCall) {
			t.Errorf("cmd/%s: control saw %q (REST: %q), want %q", tc.cmd, ctl.last(), afterREST, tc.wantCall)
		}
		if tc.wantCall == "" && ctl.last() != before {
			t.Errorf("cmd/%s: refused, yet the control was called: %q", tc.cmd, ctl.last())
		}
	}

	// Not commands: refused before the API.
	for _, cmd := range []string{"system", "collectors", "docker", "collectors/gpu/data", "disks/disk1", "disks/../spinup", "docker//start"} {
		before := ctl.last()
		w.publish(t, "unraid/tower/cmd/"+cmd, "")
		got := w.result(t, cmd, 10*time.Second)
		if got["success"] != false || int(got["status"].(float64)) != http.StatusNotFound {
			t.Errorf("cmd/%s: %v, want refused", cmd, got)
		}
		if ctl.last() != before {
			t.Errorf("cmd/%s reached the control", cmd)
		}
	}
}

// read_only: no subscription, so a command has no effect and no answer.
func TestReadOnlyIgnoresCommands(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	bs := bus.New()
	ctl := &control{}
	_, _ = start(t, Options{Broker: br.URL, Bus: bs, ReadOnly: true, Commands: api.New(bs, ctl, http.NotFoundHandler())})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	w.publish(t, "unraid/tower/cmd/collectors/gpu/disable", "")
	// A marker published after the command: once it is seen, the command
	// has been delivered to every subscriber it would reach.
	bs.Publish("marker_update", []byte(`1`))
	w.wait(t, "unraid/tower/topics/marker_update", 5*time.Second, nil)
	w.mu.Lock()
	n := len(w.results)
	w.mu.Unlock()
	if n != 0 || ctl.last() != "" {
		t.Errorf("read-only output acted: results %d, control %q", n, ctl.last())
	}
}

// Password file: a wrong password keeps retrying (logged once, the
// password never), the right one connects.
func TestPasswordBroker(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-Pa55"
	br := startBroker(t, brokerOptions{Users: map[string]string{"towerd": secret, "ha": "ha-pass"}})
	w := watch(t, br, "ha", "ha-pass")
	bs := bus.New()
	feed(bs)
	bad, badLog := start(t, Options{Broker: br.URL, Bus: bs, Hostname: "bad", Username: "towerd", Password: "wrong-" + secret})
	good, goodLog := start(t, Options{Broker: strings.Replace(br.URL, "tcp://", "tcp://towerd:"+secret+"@", 1), Bus: bs, Discovery: true})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "unraid/tower/array", 5*time.Second, nil)
	plugintest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(badLog.String(), "unreachable") },
		"no log of the refused connection:\n%s", badLog)
	if bad.Stats().Connected || !good.Stats().Connected {
		t.Errorf("connected: bad %v, good %v", bad.Stats().Connected, good.Stats().Connected)
	}
	if _, ok := w.get("unraid/bad/availability"); ok {
		t.Error("the client with the wrong password published")
	}
	for name, l := range map[string]string{"bad": badLog.String(), "good": goodLog.String()} {
		if strings.Contains(l, secret) {
			t.Errorf("%s log holds the password:\n%s", name, l)
		}
	}
	if strings.Contains(Redact("tcp://u:"+secret+"@h:1883"), secret) {
		t.Error("Redact keeps the password")
	}
}

// TLS: ssl:// with the CA generated here; the state arrives.
func TestTLSBroker(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{TLS: true})
	w := watch(t, br, "", "")
	bs := bus.New()
	feed(bs)
	out, _ := start(t, Options{Broker: strings.Replace(br.URL, "ssl://", "mqtts://", 1), Bus: bs, TLSCA: br.CA, Discovery: true})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "homeassistant/sensor/towerd_tower/cpu_usage/config", 5*time.Second, nil)
	if !out.Stats().Connected {
		t.Error("not connected over TLS")
	}
	// Without the CA the broker's certificate is refused.
	noCA, logs := start(t, Options{Broker: br.URL, Bus: bs, Hostname: "noca"})
	plugintest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "certificate") },
		"no certificate error logged:\n%s", logs)
	if noCA.Stats().Connected {
		t.Error("connected without trusting the CA")
	}
}

// Home Assistant announces itself on <discovery>/status when it starts;
// every config and state is sent again (a broker without persistence may
// have lost them).
func TestHomeAssistantBirthResends(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	bs := bus.New()
	feed(bs)
	out, _ := start(t, Options{Broker: br.URL, Bus: bs, Discovery: true})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	plugintest.Eventually(t, 5*time.Second, func() bool {
		return out.Stats().Entities > 0 && len(w.topics("homeassistant/")) == out.Stats().Entities
	},
		"configs never all published")
	before := out.Stats().Published
	w.publish(t, "homeassistant/status", "offline") // not a birth: nothing happens
	w.publish(t, "homeassistant/status", Online)
	plugintest.Eventually(t, 5*time.Second, func() bool { return out.Stats().Published-before >= int64(out.Stats().Entities) },
		"after Home Assistant's birth message not every config was sent again")
}

// ws://: MQTT over WebSocket. Debian's mosquitto cannot open a
// WebSocket listener here (libwebsockets refuses to bind), so the test
// puts a WebSocket front in front of the real broker, as a reverse proxy
// does in many installs: binary frames in, TCP stream out.
func TestWebSocketBroker(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(rw, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		tcp, err := net.Dial("tcp", strings.TrimPrefix(br.URL, "tcp://"))
		if err != nil {
			return
		}
		defer tcp.Close()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := tcp.Read(buf)
				if err != nil || ws.WriteMessage(websocket.BinaryMessage, buf[:n]) != nil {
					ws.Close()
					return
				}
			}
		}()
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if _, err := tcp.Write(b); err != nil {
				return
			}
		}
	}))
	t.Cleanup(front.Close)
	bs := bus.New()
	feed(bs)
	out, _ := start(t, Options{Broker: strings.Replace(front.URL, "http://", "ws://", 1), Bus: bs, Discovery: true})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "unraid/tower/disks/disk1", 5*time.Second, nil)
	if !out.Stats().Connected {
		t.Error("not connected over ws://")
	}
}

// Broker down at start: retried with backoff; once up, everything is
// published. Broker restart (retained messages lost): reconnect and
// publish availability, discovery and state again.
func TestBrokerDownThenRestarted(t *testing.T) {
	t.Parallel()
	port := coretest.FreePort(t)
	bs := bus.New()
	feed(bs)
	out, logs := start(t, Options{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", port), Bus: bs, Discovery: true})
	plugintest.Eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "unreachable") },
		"no retry logged:\n%s", logs)
	bs.Publish(schema.TopicArray, mustJSON(schema.Array{State: "STOPPED"})) // while down
	if out.Stats().Connected {
		t.Fatal("connected to nothing")
	}
	br := startBroker(t, brokerOptions{Port: port})
	w := watch(t, br, "", "")
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "unraid/tower/array", 5*time.Second, func(b []byte) bool { return strings.Contains(string(b), "STOPPED") })
	w.wait(t, "homeassistant/sensor/towerd_tower/array_state/config", 5*time.Second, nil)

	br.Restart(t)
	w.reset()
	w.wait(t, "unraid/tower/availability", 15*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "homeassistant/sensor/towerd_tower/array_state/config", 5*time.Second, nil)
	w.wait(t, "unraid/tower/disks/disk2", 5*time.Second, nil)
	w.wait(t, "unraid/tower/array", 5*time.Second, func(b []byte) bool { return strings.Contains(string(b), "STOPPED") })
	if strings.Count(logs.String(), "mqtt connected") < 2 {
		t.Errorf("want two connects in the log:\n%s", logs)
	}
}

// A broker that stops reading (SIGSTOP): the bus never blocks, the queue
// holds one payload per topic, memory stays flat, drops are counted; when
// the broker reads again the latest payload arrives.
func TestSlowBrokerBoundedQueue(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	bs := bus.New()
	out, _ := start(t, Options{Broker: br.URL, Bus: bs, PublishTimeout: 300 * time.Millisecond})
	w.wait(t, "unraid/tower/availability", 10*time.Second, func(b []byte) bool { return string(b) == Online })

	br.Signal(syscall.SIGSTOP)
	pad := strings.Repeat("x", 32<<10)
	payload := func(i int) []byte { return []byte(`{"seq":` + strconv.Itoa(i) + `,"pad":"` + pad + `"}`) }
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 3000 // ~100 MB offered in total
	var slowest time.Duration
	for i := 0; i < n; i++ {
		p := payload(i)
		began := time.Now()
		bs.Publish("load"+strconv.Itoa(i%3)+"_update", p)
		slowest = max(slowest, time.Since(began))
		out.mu.Lock()
		queued := len(out.pending)
		out.mu.Unlock()
		if queued > 3 {
			t.Fatalf("queue holds %d payloads for 3 topics", queued)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d publishes of 32 KiB with the broker stopped: slowest %v; heap grew %d KiB; dropped %d", n, slowest, grew>>10, out.Stats().Dropped)
	if slowest > time.Second {
		t.Errorf("the bus was held up by the broker: one publish took %v", slowest)
	}
	if grew > 16<<20 {
		t.Errorf("heap grew %d MiB while the broker was stopped", grew>>20)
	}
	if out.Stats().Dropped < n/2 {
		t.Errorf("dropped %d of %d, want most counted", out.Stats().Dropped, n)
	}

	br.Signal(syscall.SIGCONT)
	final := n + 2
	bs.Publish("load0_update", payload(final))
	w.wait(t, "unraid/tower/topics/load0_update", 20*time.Second, func(b []byte) bool {
		return strings.HasPrefix(string(b), fmt.Sprintf(`{"seq":%d,`, final))
	})
}

// What an earlier run left retained and this run does not publish (a disk
// removed, a collector disabled while towerd was down) is cleared after
// LeftoverAfter; what this run publishes, and other servers' topics, stay.
func TestLeftoversOfEarlierRunCleared(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	stale := []string{
		"unraid/tower/disks/disk9",
		"unraid/tower/fans",
		"homeassistant/sensor/towerd_tower/disk_disk9_temperature/config",
		"homeassistant/number/towerd_tower/fan_hwmon2_fan1_speed/config",
	}
	kept := []string{"unraid/other/disks/disk9", "homeassistant/sensor/towerd_other/disk_disk9_temperature/config"}
	for _, topic := range append(append([]string{}, stale...), kept...) {
		if tok := w.c.Publish(topic, 1, true, `{"old":true}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	for _, topic := range stale {
		w.wait(t, topic, 5*time.Second, nil)
	}
	bs := bus.New()
	feed(bs)
	start(t, Options{Broker: br.URL, Bus: bs, Discovery: true, LeftoverAfter: 300 * time.Millisecond})
	w.wait(t, "unraid/tower/disks/disk1", 5*time.Second, nil)
	var left []string
	plugintest.Eventually(t, 10*time.Second, func() bool {
		left = left[:0]
		for _, topic := range stale {
			if _, ok := w.get(topic); ok {
				left = append(left, topic)
			}
		}
		return len(left) == 0
	}, "leftovers still retained: %v", &left)
	for _, topic := range append(kept, "unraid/tower/disks/disk1", "homeassistant/sensor/towerd_tower/disk_disk1_temperature/config",
		"unraid/tower/availability", "unraid/tower/system") {
		if _, ok := w.get(topic); !ok {
			t.Errorf("%s was cleared", topic)
		}
	}
	// A new subscriber sees no leftover either: the broker dropped them.
	fresh := watch(t, br, "", "")
	fresh.wait(t, "unraid/tower/disks/disk1", 5*time.Second, nil)
	for _, topic := range stale {
		if _, ok := fresh.get(topic); ok {
			t.Errorf("%s still retained on the broker", topic)
		}
	}
}

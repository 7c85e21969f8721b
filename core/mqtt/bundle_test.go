package mqtt

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// A real towerd with the built-in monitors and the unraid and zfs bundles
// on the fixture tree, publishing to a real mosquitto: the bundles' state
// topics and discovery configs are on the broker with what the fixture
// holds, a user script runs when its button's command topic is published
// to, notifications are archived from their button, and disabling a
// collector removes its retained state and entities from the broker.
func TestBundlesOverMQTT(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	plugins := coretest.Merge(coretest.Plugins(t, "system", "array", "disk", "shares", "network", "ups"),
		coretest.Plugins(t, "unraid", "zfs"))
	a := coretest.Start(t, coretest.Options{Plugins: plugins, Root: coretest.FixtureCopy(t),
		Args: []string{"--mqtt-broker", br.URL, "--mqtt-hostname", "bt"}})
	const base, node = "unraid/bt/", "towerd_bt"
	cfgTopic := func(component, id string) string {
		return "homeassistant/" + component + "/" + node + "/" + id + "/config"
	}

	// State: each bundle topic under its own name, items and derived topics.
	field := func(key string, want any) func([]byte) bool {
		return func(b []byte) bool {
			var m map[string]any
			if json.Unmarshal(b, &m) != nil {
				return false
			}
			got, _ := json.Marshal(m[key])
			exp, _ := json.Marshal(want)
			return string(got) == string(exp)
		}
	}
	const slow = 60 * time.Second
	w.wait(t, base+"notifications/latest", slow, field("subject", "Alert [TOWER] - disk2 reallocated sector count is 12"))
	w.wait(t, base+"notifications", slow, func(b []byte) bool {
		return strings.Contains(string(b), `"unread":{"info":1,"warning":1,"alert":1,"total":3}`)
	})
	w.wait(t, base+"parity_history/last", slow, field("date", "2025-11-01T03:09:22Z"))
	next := w.wait(t, base+"parity_schedule/next", slow, nil)
	var n struct {
		NextCheck time.Time `json:"next_check"`
	}
	if err := json.Unmarshal(next, &n); err != nil || !n.NextCheck.After(time.Now()) || n.NextCheck.Day() != 1 ||
		n.NextCheck.Hour() != 1 || n.NextCheck.Minute() != 30 {
		t.Errorf("next parity check %s: want the 1st of a month at 01:30 local, after now (cron 30 1 1 * *)", next)
	}
	w.wait(t, base+"user_scripts/backup_appdata", slow, field("running", false))
	w.wait(t, base+"fans/hwmon2_fan1", slow, field("rpm", 1180.0))
	w.wait(t, base+"zfs_pools/tank", slow, field("health", "DEGRADED"))
	w.wait(t, base+"plugins/unassigned.devices", slow, field("update_available", true))
	w.wait(t, base+"os_update", slow, field("os_update_available", true))
	w.wait(t, base+"mover", slow, field("active", false))
	w.wait(t, base+"flash", slow, field("vendor", "SanDisk")) // usage is statfs of the tree's file system
	w.wait(t, base+"topics/registration_update", slow, nil)   // no entities of its own: state under topics/
	for _, s := range []string{"system", "array", "disks", "shares", "network", "ups"} {
		w.wait(t, base+s, slow, nil)
	}

	// Discovery configs: one per entity, on the same device, availability
	// wired, command topics under this server's cmd/.
	want := map[string]string{ // config topic → its state or command topic
		cfgTopic("sensor", "notifications_unread"):              base + "notifications",
		cfgTopic("sensor", "notifications_alert"):               base + "notifications",
		cfgTopic("sensor", "notification_latest"):               base + "notifications/latest",
		cfgTopic("button", "notifications_archive_all"):         base + "cmd/notifications/archive/all",
		cfgTopic("sensor", "parity_last_check"):                 base + "parity_history/last",
		cfgTopic("sensor", "parity_last_errors"):                base + "parity_history/last",
		cfgTopic("sensor", "parity_next_check"):                 base + "parity_schedule/next",
		cfgTopic("binary_sensor", "os_update_available"):        base + "os_update",
		cfgTopic("binary_sensor", "plugin_updates_available"):   base + "plugins",
		cfgTopic("sensor", "flash_usage"):                       base + "flash",
		cfgTopic("binary_sensor", "mover_running"):              base + "mover",
		cfgTopic("sensor", "zfs_tank_health"):                   base + "zfs_pools/tank",
		cfgTopic("sensor", "zfs_cache_usage"):                   base + "zfs_pools/cache",
		cfgTopic("sensor", "fan_hwmon2_fan1_rpm"):               base + "fans/hwmon2_fan1",
		cfgTopic("number", "fan_hwmon2_fan1_speed"):             base + "cmd/fans/speed",
		cfgTopic("button", "script_backup_appdata_run"):         base + "cmd/user-scripts/backup_appdata/execute",
		cfgTopic("binary_sensor", "script_clear_cache_running"): base + "user_scripts/clear_cache",
	}
	for topic, target := range want {
		c := decode(t, w.wait(t, topic, slow, nil))
		if c["state_topic"] != target && c["command_topic"] != target {
			t.Errorf("%s: state %v, command %v; want %s", topic, c["state_topic"], c["command_topic"], target)
		}
		dev, _ := c["device"].(map[string]any)
		ids, _ := json.Marshal(dev["identifiers"])
		if c["availability_topic"] != base+"availability" || string(ids) != `["`+node+`"]` ||
			c["unique_id"] != node+"_"+strings.Split(topic, "/")[3] {
			t.Errorf("%s: availability %v, device %v, unique_id %v", topic, c["availability_topic"], dev, c["unique_id"])
		}
	}
	if _, ok := w.get(cfgTopic("number", "fan_hwmon2_fan4_speed")); ok {
		t.Error("a number entity for fan 4, which is not controllable")
	}

	// Settled: the broker holds every config towerd counts.
	var onBroker, announced float64 // printed by address on failure; the counts are in the log below
	plugintest.Eventually(t, slow, func() bool {
		announced, _ = metric(t, a, "towerd_mqtt_discovery_entities")
		onBroker = float64(len(configsOf(w, node)))
		return announced > 0 && onBroker == announced
	}, "%v configs on the broker, towerd announced %v", &onBroker, &announced)
	t.Logf("discovery entities on the fixture tree with the unraid and zfs bundles: %v; by kind: %v",
		announced, entityKinds(configsOf(w, node)))

	// The script button's command topic runs the script through the REST
	// handler; with {"wait":true} the result holds its output.
	w.publish(t, base+"cmd/user-scripts/backup_appdata/execute", `{"wait":true}`)
	if got := w.result(t, "user-scripts/backup_appdata/execute", slow); got["success"] != true ||
		!strings.Contains(got["output"].(string), "backing up appdata") || got["exit_code"] != 0.0 {
		t.Errorf("execute over MQTT: %v", got)
	}
	press := decode(t, w.wait(t, cfgTopic("button", "script_clear_cache_run"), slow, nil))
	w.publish(t, press["command_topic"].(string), press["payload_press"].(string))
	if got := w.result(t, "user-scripts/clear_cache/execute", slow); got["success"] != true ||
		!strings.Contains(got["message"].(string), "background") {
		t.Errorf("script button press: %v", got)
	}
	// Validated as REST: the same refusal for a name REST refuses.
	code, b := a.Do(t, http.MethodPost, "/api/v1/user-scripts/nope/execute", "")
	rest := decode(t, b)
	w.publish(t, base+"cmd/user-scripts/nope/execute", "")
	if got := w.result(t, "user-scripts/nope/execute", slow); got["status"] != float64(code) || got["message"] != rest["message"] {
		t.Errorf("unknown script over MQTT: %v; REST %d %v", got, code, rest)
	}
	// Fan speed from the number entity's command template.
	w.publish(t, base+"cmd/fans/speed", `{"fan_id":"hwmon2_fan2","speed_percent":60}`)
	if got := w.result(t, "fans/speed", slow); got["success"] != true {
		t.Errorf("fan speed over MQTT: %v", got)
	}
	w.publish(t, base+"cmd/fans/speed", `{"fan_id":"hwmon2_fan2","speed_percent":0}`)
	if got := w.result(t, "fans/speed", slow); got["success"] != false || got["status"] != 400.0 {
		t.Errorf("fan speed 0 over MQTT: %v (REST refuses 0 %%)", got)
	}

	// Archive all: the counts drop to zero and no unread one is the latest.
	w.publish(t, base+"cmd/notifications/archive/all", "{}")
	if got := w.result(t, "notifications/archive/all", slow); got["success"] != true {
		t.Errorf("archive all over MQTT: %v", got)
	}
	w.wait(t, base+"notifications", slow, func(b []byte) bool {
		return strings.Contains(string(b), `"unread":{"info":0,"warning":0,"alert":0,"total":0}`)
	})
	w.wait(t, base+"notifications/latest", slow, func(b []byte) bool { return string(b) == "{}" })

	// Disabling a collector removes its state and entities from the broker.
	fanTopics := func(w *watcher) []string {
		var out []string
		for topic := range w.topics("") {
			if strings.HasPrefix(topic, base+"fans") || strings.Contains(topic, "/"+node+"/fan_") {
				out = append(out, topic)
			}
		}
		return out
	}
	if got := len(fanTopics(w)); got != 1+4+4+3 { // state, 4 fans, 4 rpm sensors, 3 PWM numbers
		t.Errorf("%d fan topics before disable: %v", got, fanTopics(w))
	}
	if code, b := a.Do(t, http.MethodPost, "/api/v1/collectors/fans/disable", ""); code != http.StatusOK {
		t.Fatalf("disable fans: %d %s", code, b)
	}
	var left []string
	plugintest.Eventually(t, slow, func() bool { left = fanTopics(w); return len(left) == 0 }, "fan topics still retained: %v", &left)
	plugintest.Eventually(t, slow, func() bool {
		announced, _ = metric(t, a, "towerd_mqtt_discovery_entities")
		return int(announced) == len(configsOf(w, node))
	}, "after disable: towerd counts %v entities, the broker holds %d", &announced, len(configsOf(w, node)))
	fresh := watch(t, br, "", "") // a new subscriber gets what is retained
	fresh.wait(t, base+"availability", 10*time.Second, nil)
	fresh.wait(t, cfgTopic("sensor", "zfs_tank_health"), 10*time.Second, nil)
	if left = fanTopics(fresh); len(left) != 0 {
		t.Errorf("retained on the broker after disable: %v", left)
	}

	// Enabled again, it comes back.
	if code, b := a.Do(t, http.MethodPost, "/api/v1/collectors/fans/enable", ""); code != http.StatusOK {
		t.Fatalf("enable fans: %d %s", code, b)
	}
	w.wait(t, cfgTopic("sensor", "fan_hwmon2_fan1_rpm"), slow, nil)
	w.wait(t, base+"fans/hwmon2_fan1", slow, nil)
}

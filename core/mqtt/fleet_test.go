package mqtt

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// metric reads one unlabelled sample from a towerd's /metrics.
func metric(t testing.TB, a *coretest.Agent, name string) (float64, bool) {
	t.Helper()
	code, b := a.Do(t, http.MethodGet, "/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}

// Three towerd processes (different hostnames, ports and fixture trees)
// publish to one broker that needs a password: three Home Assistant
// devices, no topic or unique_id shared, and each server's state under its
// own prefix. The password reaches towerd three ways (file, environment,
// flag) and is never logged, served, nor passed to a plugin.
func TestFleetOfThree(t *testing.T) {
	t.Parallel()
	const secret = "fleet-Secr3t"
	br := startBroker(t, brokerOptions{Users: map[string]string{"towerd": secret, "ha": "ha-pass"}})
	w := watch(t, br, "ha", "ha-pass")
	plugins := coretest.Plugins(t, "system", "array", "disk", "shares", "network", "ups")

	var agents []*coretest.Agent
	for i := 1; i <= 3; i++ {
		host := fmt.Sprintf("tower%d", i)
		mq := map[string]any{"enabled": true, "broker": br.URL, "username": "towerd"}
		opts := coretest.Options{Plugins: plugins, Root: coretest.FixtureCopy(t), Args: []string{"--debug-runtime"}}
		switch i {
		case 1: // all in the settings file
			mq["password"], mq["hostname"] = secret, host
		case 2: // password from the environment
			mq["hostname"] = host
			opts.Env = []string{"TOWERD_MQTT_PASSWORD=" + secret}
		case 3: // flags
			opts.Args = append(opts.Args, "--mqtt-hostname", host, "--mqtt-password", secret)
		}
		cfg, _ := json.Marshal(map[string]any{"mqtt": mq})
		opts.Config = string(cfg)
		agents = append(agents, coretest.Start(t, opts))
	}

	stateTopics := []string{"system", "array", "disks", "shares", "network", "ups"}
	counts := map[string]int{}
	for i, a := range agents {
		host := fmt.Sprintf("tower%d", i+1)
		base, node := "unraid/"+host+"/", "towerd_"+host
		w.wait(t, base+"availability", 30*time.Second, func(b []byte) bool { return string(b) == Online })
		for _, s := range stateTopics {
			w.wait(t, base+s, 30*time.Second, nil)
		}
		// Settled when the broker holds every config towerd counts.
		var onBroker, announced float64
		plugintest.Eventually(t, 30*time.Second, func() bool {
			announced, _ = metric(t, a, "towerd_mqtt_discovery_entities")
			onBroker = float64(len(configsOf(w, node)))
			return announced > 0 && onBroker == announced
		}, "%s: %v configs on the broker, towerd announced %v\n%s", host, &onBroker, &announced, a)
		counts[host] = int(announced)
		if v, _ := metric(t, a, "towerd_mqtt_connected"); v != 1 {
			t.Errorf("%s: towerd_mqtt_connected %v", host, v)
		}
	}
	t.Logf("discovery entities per server on the fixture tree: %v; tower1 by kind: %v", counts, entityKinds(configsOf(w, "towerd_tower1")))

	// One device per server; no unique_id, config topic or state topic shared.
	devices := map[string]string{}
	owner := map[string]string{} // unique_id → host
	for i := 1; i <= 3; i++ {
		host := fmt.Sprintf("tower%d", i)
		for topic, b := range configsOf(w, "towerd_"+host) {
			c := decode(t, b)
			dev, _ := c["device"].(map[string]any)
			ids, _ := json.Marshal(dev["identifiers"])
			if dev["name"] != host || !strings.HasPrefix(fmt.Sprint(dev["configuration_url"]), "http://") {
				t.Errorf("%s: device %v", topic, dev)
			}
			if prev, ok := devices[string(ids)]; ok && prev != host {
				t.Errorf("device %s shared by %s and %s", ids, prev, host)
			}
			devices[string(ids)] = host
			id := fmt.Sprint(c["unique_id"])
			if prev, ok := owner[id]; ok {
				t.Errorf("unique_id %s used by %s and %s", id, prev, host)
			}
			owner[id] = host
			for _, k := range []string{"state_topic", "command_topic", "availability_topic"} {
				if v, ok := c[k].(string); ok && !strings.HasPrefix(v, "unraid/"+host+"/") {
					t.Errorf("%s: %s %q is not under unraid/%s/", topic, k, v, host)
				}
			}
		}
	}
	if len(devices) != 3 {
		t.Errorf("want 3 devices, got %v", devices)
	}
	for topic := range w.topics("") {
		n := 0
		for i := 1; i <= 3; i++ {
			host := fmt.Sprintf("tower%d", i)
			if strings.HasPrefix(topic, "unraid/"+host+"/") || strings.Contains(topic, "/towerd_"+host+"/") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("topic %s belongs to %d servers", topic, n)
		}
	}

	// The fixture's disks each have their own topic and entities.
	w.wait(t, "unraid/tower2/disks/disk1", 5*time.Second, func(b []byte) bool { return strings.Contains(string(b), `"id":"disk1"`) })
	w.wait(t, "homeassistant/button/towerd_tower2/disk_disk1_spinup/config", 5*time.Second, nil)

	// The password is nowhere a user or a plugin could read it.
	for i, a := range agents {
		for _, path := range []string{"/api/v1/collectors", "/api/v1/debug/runtime", "/metrics", "/api/v1/openapi.json"} {
			if _, b := a.Do(t, http.MethodGet, path, ""); strings.Contains(string(b), secret) {
				t.Errorf("tower%d: %s holds the MQTT password", i+1, path)
			}
		}
		if strings.Contains(a.Log(), secret) {
			t.Errorf("tower%d: the log holds the MQTT password", i+1)
		}
		for _, pid := range a.PluginProcesses() {
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if strings.Contains(string(env), secret) {
				t.Errorf("tower%d: plugin %d has the MQTT password in its environment", i+1, pid)
			}
		}
	}
	if !strings.Contains(agents[2].Log(), "MQTT password given on the command line") {
		t.Error("no warning for --mqtt-password")
	}

	// Stopping one server marks it offline; the others stay online.
	agents[0].Stop(t)
	w.wait(t, "unraid/tower1/availability", 10*time.Second, func(b []byte) bool { return string(b) == Offline })
	if b, _ := w.get("unraid/tower2/availability"); string(b) != Online {
		t.Errorf("tower2 availability %q after tower1 stopped", b)
	}
}

// entityKinds counts configs by component and the first word of the
// object id (disk, container, nic, share, or a system/array/UPS entity).
func entityKinds(configs map[string][]byte) map[string]int {
	out := map[string]int{}
	for topic := range configs {
		parts := strings.Split(topic, "/") // homeassistant/<component>/<node>/<object>/config
		kind := parts[3]
		if i := strings.Index(kind, "_"); i > 0 && strings.Contains("disk nic share container vm gpu ups script fan zfs", kind[:i]) {
			kind = kind[:i]
		} else {
			kind = "server"
		}
		out[parts[1]+":"+kind]++
	}
	return out
}

// configsOf returns the discovery configs of one node on the broker.
func configsOf(w *watcher, node string) map[string][]byte {
	out := map[string][]byte{}
	for topic, b := range w.topics("homeassistant/") {
		if strings.Contains(topic, "/"+node+"/") {
			out[topic] = b
		}
	}
	return out
}

// Commands to a real towerd: each answers what REST answers for the same
// request (the test plugin stands in for docker and vm, as in core/e2e),
// and a collector disabled over MQTT is disabled for REST too.
func TestCommandsThroughAgent(t *testing.T) {
	t.Parallel()
	br := startBroker(t, brokerOptions{})
	w := watch(t, br, "", "")
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.TestPlugins(t, "docker", "vm"),
		Args:    []string{"--mqtt-broker", br.URL, "--mqtt-hostname", "cmdtower", "--mqtt-discovery=false"},
	})
	a.WaitCollector(t, "docker", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	a.WaitCollector(t, "vm", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	w.wait(t, "unraid/cmdtower/availability", 15*time.Second, func(b []byte) bool { return string(b) == Online })
	w.wait(t, "unraid/cmdtower/topics/docker_update", 15*time.Second, nil) // third-party topic: no discovery, but state
	if len(configsOf(w, "towerd_cmdtower")) != 0 {
		t.Error("discovery configs published with --mqtt-discovery=false")
	}

	cases := []struct{ cmd, payload, path, body string }{
		{"docker/0123456789ab/start", "", "/api/v1/docker/0123456789ab/start", ""},
		{"docker/nginx-proxy_1", "start", "/api/v1/docker/nginx-proxy_1/start", ""},
		{"docker/missing/start", "", "/api/v1/docker/missing/start", ""},
		{"docker/0123456789ab/stop", "", "/api/v1/docker/0123456789ab/stop", ""},
		{"docker/-rf/start", "", "/api/v1/docker/-rf/start", ""},
		{"docker/0123456789ab/ping", "", "/api/v1/docker/0123456789ab/ping", ""},
		{"vm/My VM/start", "", "/api/v1/vm/My%20VM/start", ""},
		{"vm/My VM/pause", "{}", "/api/v1/vm/My%20VM/pause", "{}"},
		{"vm/ok/reset", "", "/api/v1/vm/ok/reset", ""},
		{"vm/ok/reset", `{"confirm":"yes"`, "/api/v1/vm/ok/reset", `{"confirm":"yes"`},
		{"disks/disk1/spinup", "", "/api/v1/disks/disk1/spinup", ""},
		{"array/parity-check/start", "", "/api/v1/array/parity-check/start", ""},
		{"collectors/docker/actions/ping", "", "/api/v1/collectors/docker/actions/ping", ""},
	}
	for _, tc := range cases {
		code, b := a.Do(t, http.MethodPost, tc.path, tc.body)
		rest := decode(t, b)
		w.publish(t, "unraid/cmdtower/cmd/"+tc.cmd, tc.payload)
		got := w.result(t, tc.cmd, 15*time.Second)
		if int(got["status"].(float64)) != code || got["success"] != rest["success"] || got["message"] != rest["message"] {
			t.Errorf("cmd/%s %q: %v; REST POST %s: %d %v", tc.cmd, tc.payload, got, tc.path, code, rest)
		}
	}

	w.publish(t, "unraid/cmdtower/cmd/collectors/vm/disable", "")
	if got := w.result(t, "collectors/vm/disable", 15*time.Second); got["success"] != true {
		t.Fatalf("disable over MQTT: %v", got)
	}
	if c := a.Collector(t, "vm"); c.Enabled || c.Status != "disabled" {
		t.Errorf("after disable over MQTT, REST shows %+v", c)
	}
	w.publish(t, "unraid/cmdtower/cmd/collectors/vm", "enable")
	if got := w.result(t, "collectors/vm", 15*time.Second); got["success"] != true {
		t.Fatalf("enable over MQTT: %v", got)
	}
	a.WaitCollector(t, "vm", 15*time.Second, func(c coretest.Collector) bool { return c.Enabled && c.Status == "running" })
}

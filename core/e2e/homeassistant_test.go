package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// This file is a client like the Home Assistant integration of the Unraid
// Management Agent: it knows nothing of towerd's Go types, only the specs
// (docs/ha-models.md, docs/rest-api.md, docs/websocket.md). It polls
// every REST path the integration calls, concurrently as the integration
// does, connects to the WebSocket, identifies every event by its fields
// alone, and checks every field against the type the integration's model
// accepts (haModels in hamodels_test.go).

// event is one of the nine kinds, as websocket-events.md describes it.
type event struct {
	topic     string
	collector string
	path      string // REST path serving the same payload
	list      bool
	model     string // the Home Assistant model of one object/item
	// identify is the spec's identification rule, on one object.
	identify func(map[string]any) bool
}

func has(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

var events = []event{
	{"system_update", "system", "/system", false, "SystemInfo",
		func(m map[string]any) bool { return has(m, "hostname", "cpu_usage_percent") }},
	{"array_status_update", "array", "/array", false, "ArrayStatus",
		func(m map[string]any) bool { return has(m, "state", "parity_check_status", "num_disks", "total_disks") }},
	{"disk_list_update", "disk", "/disks", true, "DiskInfo",
		func(m map[string]any) bool { return has(m, "device", "mount_point") }},
	{"container_list_update", "docker", "/docker", true, "ContainerInfo",
		func(m map[string]any) bool {
			return has(m, "image", "ports") && (has(m, "id") || has(m, "container_id"))
		}},
	{"vm_list_update", "vm", "/vm", true, "VMInfo",
		func(m map[string]any) bool { return has(m, "state", "vcpus") }},
	{"ups_status_update", "ups", "/ups", false, "UPSInfo",
		func(m map[string]any) bool { return has(m, "connected", "battery_charge_percent") }},
	{"gpu_update", "gpu", "/gpu", true, "GPUInfo",
		func(m map[string]any) bool { return has(m, "available", "driver_version", "utilization_gpu_percent") }},
	{"network_list_update", "network", "/network", true, "NetworkInterface",
		func(m map[string]any) bool { return has(m, "mac_address", "bytes_received") }},
	{"share_list_update", "shares", "/shares", true, "ShareInfo",
		func(m map[string]any) bool { return has(m, "name", "path", "size_bytes") }},
}

// haPoll is one GET of the integration's refresh (docs/ha-models.md "The
// poll and its models"; coordinator.py:383-433): 32 calls in one gather, plus
// /docker/updates when the "container updates" option is on.
type haPoll struct {
	path, model string
	list        bool
	// filled: the fixture tree has items, so an empty list is a failure
	// (the integration builds ZFS and script entities only from a
	// non-empty first poll).
	filled bool
}

var haPolls = []haPoll{
	{"/system", "SystemInfo", false, false}, {"/array", "ArrayStatus", false, false},
	{"/disks", "DiskInfo", true, true}, {"/docker", "ContainerInfo", true, false},
	{"/vm", "VMInfo", true, true}, {"/ups", "UPSInfo", false, false},
	{"/gpu", "GPUInfo", true, false}, {"/network", "NetworkInterface", true, true},
	{"/shares", "ShareInfo", true, true},
	{"/notifications", "NotificationsResponse", false, false}, {"/notifications/overview", "NotificationOverview", false, false},
	{"/user-scripts", "UserScript", true, true},
	{"/zfs/pools", "ZFSPool", true, true}, {"/zfs/datasets", "ZFSDataset", true, true},
	{"/zfs/snapshots", "ZFSSnapshot", true, true}, {"/zfs/arc", "ZFSArcStats", false, false},
	{"/collectors/status", "CollectorStatus", false, false}, {"/fans", "FanControlStatus", false, false},
	{"/settings/disk-thresholds", "DiskSettings", false, false}, {"/mover", "MoverSettings", false, false},
	{"/array/parity-check/schedule", "ParitySchedule", false, false},
	{"/array/parity-check/history", "ParityHistory", false, false},
	{"/system/flash", "FlashDriveInfo", false, false}, {"/plugins", "PluginList", false, false},
	{"/os/update", "UpdateStatus", false, false},
	{"/settings/docker", "DockerSettings", false, false}, {"/settings/vm", "VMSettings", false, false},
	{"/registration", "RegistrationInfo", false, false},
	{"/settings/network-services", "NetworkServicesStatus", false, false},
	{"/unassigned", "UnassignedInfo", false, false},
	{"/diagnostics/self-test", "DiagnosticsSelfTestResponse", false, false},
	{"/docker/port-conflicts", "DockerPortConflict", true, false},
	{"/docker/updates", "ContainerUpdatesResult", false, false},
}

// haUnserved lists the polls towerd answers 404 on purpose, and why. The
// integration suppresses the 404 of each (docs/ha-models.md "How the client behaves")
// and only leaves those entities out.
var haUnserved = map[string]string{
	"/docker/updates": "image update checks need a registry to compare digests with; only polled with the integration's opt-in \"container updates\" option (issue 15 item 6, not done)",
}

// The fallback paths the integration tries only after a request error on
// /mover and /os/update: served too, checked against the same models.
var haFallbacks = map[string]string{"/settings/mover": "MoverSettings", "/updates": "UpdateStatus"}

// bundleCollectors are the collectors of the unraid and zfs bundles, whose
// topics the integration's WebSocket client does not identify (it only
// refreshes); their data reaches it through the polls above.
var (
	unraidCollectors = []string{"notification", "parity_history", "parity_schedule", "user_scripts", "flash", "plugins", "os_update",
		"registration", "network_services", "mover", "disk_thresholds", "unassigned", "fans"}
	zfsCollectors    = []string{"zfs", "zfs_datasets", "zfs_snapshots", "zfs_arc"}
	bundleCollectors = append(append([]string{}, unraidCollectors...), zfsCollectors...)
)

// identify returns the kinds whose rule matches data; for a list, every
// item must match the same single kind. An empty list cannot be told
// apart by its fields (the HA client treats it as "empty").
func identify(data any) []string {
	var objs []map[string]any
	switch d := data.(type) {
	case map[string]any:
		objs = []map[string]any{d}
	case []any:
		for _, it := range d {
			m, ok := it.(map[string]any)
			if !ok {
				return []string{"non-object item"}
			}
			objs = append(objs, m)
		}
		if len(objs) == 0 {
			return []string{"empty_list"}
		}
	default:
		return nil
	}
	var out []string
	for _, e := range events {
		all := true
		for _, o := range objs {
			all = all && e.identify(o) && e.list == isList(data)
		}
		if all {
			out = append(out, e.topic)
		}
	}
	return out
}

func isList(v any) bool { _, ok := v.([]any); return ok }

func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

// isTimestamp reports whether v is an RFC 3339 timestamp string.
func isTimestamp(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// checkPayload checks a payload of e against the Home Assistant model:
// shape and every field's type, per item for lists. sendChecks adds the
// fields towerd must send.
func checkPayload(where string, e event, data any, sendChecks bool) []string {
	if e.list {
		items, ok := data.([]any)
		if !ok {
			return []string{where + ": not a JSON array (the HA client fails on an object here)"}
		}
		return haCheckItems(where, e.model, items, sendChecks)
	}
	m, ok := data.(map[string]any)
	if !ok {
		return []string{where + ": not a JSON object"}
	}
	return haCheck(where, e.model, m, sendChecks)
}

// builtinPlugins lists every built-in plugin present in the tree.
func builtinPlugins(t *testing.T) []string {
	mains, err := filepath.Glob(filepath.Join(coretest.RepoRoot(), "plugins", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mains {
		// The bundles serve collectors of other names and topics (see
		// bundleCollectors); the test starts them on its own.
		if n := filepath.Base(filepath.Dir(m)); n != "unraid" && n != "zfs" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

type answer struct {
	path   string
	code   int
	ctype  string
	body   []byte
	parsed any
	err    error
}

// pollAll GETs every path at once, as the HA client does every 30 s.
func pollAll(t *testing.T, a *coretest.Agent, paths []string) map[string]answer {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]answer{}
	for _, p := range paths {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			ans := answer{path: p}
			resp, err := http.Get(a.URL + "/api/v1" + p)
			if err != nil {
				ans.err = err
			} else {
				buf := new(bytes.Buffer)
				_, ans.err = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				ans.code, ans.ctype, ans.body = resp.StatusCode, resp.Header.Get("Content-Type"), buf.Bytes()
				if ans.err == nil {
					ans.parsed, ans.err = decode(ans.body)
				}
			}
			mu.Lock()
			out[p] = ans
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	return out
}

func TestHomeAssistantClient(t *testing.T) {
	t.Parallel()
	plugins := builtinPlugins(t)
	installed := map[string]bool{}
	for _, p := range plugins {
		installed[p] = true
	}
	t.Logf("built-in plugins in this tree: %v", plugins)
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Merge(coretest.Plugins(t, plugins...), coretest.Plugins(t, "unraid", "zfs")),
		Root:    filepath.Join(coretest.RepoRoot(), "testdata", "unraid"),
		// libvirt's built-in test driver has a running domain, so /vm
		// items are checked against the model too.
		Config: `{"collectors":{"vm":{"options":{"uri":"test:///default"}}}}`,
	})

	// Every installed collector runs and has delivered a first payload.
	// So are the bundles' collectors (the polls below must see their data,
	// not the defaults served before a first collect).
	waitFor := append(append([]string{}, plugins...), bundleCollectors...)
	waitListed(t, a, waitFor)
	for _, p := range waitFor {
		a.WaitCollector(t, p, 60*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	}
	bundleTopics := map[string]bool{}
	plugintest.Eventually(t, 60*time.Second, func() bool {
		var l struct {
			Collectors []struct {
				Name        string    `json:"name"`
				Topic       string    `json:"topic"`
				LastSuccess time.Time `json:"last_success"`
			} `json:"collectors"`
		}
		a.GetJSON(t, "/api/v1/collectors/status", &l)
		done := 0
		for _, c := range l.Collectors {
			if oneOf(c.Name, bundleCollectors...) {
				bundleTopics[c.Topic] = true
			}
			if oneOf(c.Name, waitFor...) && !c.LastSuccess.IsZero() {
				done++
			}
		}
		return done == len(waitFor)
	}, "not every installed collector has collected once\n%s", a)

	// --- WebSocket: the snapshot on connect carries every topic. ---
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+a.Addr+"/api/v1/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	type envelope struct {
		Event     string          `json:"event"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
		Topic     string          `json:"topic"`
	}
	seen := map[string]envelope{}
	want := 0
	for _, e := range events {
		if installed[e.collector] {
			want++
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	_ = conn.SetReadDeadline(deadline)
	for len(seen) < want {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d topics: %v", len(seen), want, err)
		}
		// The envelope: exactly the spec's keys, plus "topic".
		var keys map[string]json.RawMessage
		var ev envelope
		if json.Unmarshal(msg, &keys) != nil || json.Unmarshal(msg, &ev) != nil {
			t.Fatalf("message is not a JSON object: %s", trim(msg))
		}
		if len(keys) != 4 || keys["event"] == nil || keys["timestamp"] == nil || keys["data"] == nil || keys["topic"] == nil {
			t.Errorf("envelope keys: %s", trim(msg))
		}
		if _, err := time.Parse(time.RFC3339Nano, ev.Timestamp); ev.Event != "update" || err != nil {
			t.Errorf("bad envelope: event %q timestamp %q", ev.Event, ev.Timestamp)
		}
		data, err := decode(ev.Data)
		if err != nil {
			t.Fatalf("event data is not JSON: %v", err)
		}
		kinds := identify(data)
		e := eventByTopic(ev.Topic)
		if e == nil && bundleTopics[ev.Topic] {
			continue // checked through REST below
		}
		switch {
		case e == nil:
			t.Errorf("event with unknown topic %q", ev.Topic)
			continue
		case len(kinds) == 1 && kinds[0] == "empty_list":
			// Empty arrays are still sent (field-test-results.md); only
			// list topics may be empty.
			if !e.list || string(bytes.TrimSpace(ev.Data)) != "[]" {
				t.Errorf("%s: empty data %s for a non-list event", ev.Topic, ev.Data)
			}
		case len(kinds) != 1 || kinds[0] != ev.Topic:
			t.Errorf("event with topic %s identified by its fields as %v: %s", ev.Topic, kinds, trim(ev.Data))
		}
		for _, bad := range checkPayload("ws "+ev.Topic, *e, data, true) {
			t.Error(bad)
		}
		if _, dup := seen[ev.Topic]; !dup {
			seen[ev.Topic] = ev
		}
	}
	for _, e := range events {
		_, got := seen[e.topic]
		if installed[e.collector] && !got {
			t.Errorf("no %s event from the installed %s collector", e.topic, e.collector)
		}
		if !installed[e.collector] && got {
			t.Errorf("%s event without a %s plugin", e.topic, e.collector)
		}
	}

	// --- REST: every path of rest-api.md, concurrently. ---
	paths := []string{"/health", "/nonexistent"}
	for _, p := range haPolls {
		paths = append(paths, p.path)
	}
	for p := range haFallbacks {
		paths = append(paths, p)
	}
	for _, c := range []string{"system", "array", "disk", "docker", "vm", "ups", "gpu", "network", "shares", "bogus"} {
		paths = append(paths, "/collectors/"+c)
	}
	answers := pollAll(t, a, paths)
	// Item lookups with ids taken from the lists, as the client does.
	var items []string
	itemKeys := map[string][]string{"/disks": {"id", "device", "name"}, "/docker": {"id", "name"}, "/vm": {"id", "name"}}
	for path, keys := range itemKeys {
		list, _ := answers[path].parsed.([]any)
		for _, it := range list {
			m, _ := it.(map[string]any)
			for _, k := range keys {
				if s, _ := m[k].(string); s != "" {
					items = append(items, path+"/"+url.PathEscape(s))
				}
			}
		}
		items = append(items, path+"/no-such-item")
	}
	for p, ans := range pollAll(t, a, items) {
		answers[p] = ans
	}
	t.Logf("polled %d REST paths concurrently", len(answers))

	for p, ans := range answers {
		if ans.err != nil {
			t.Errorf("GET %s: %v", p, ans.err)
			continue
		}
		if ans.ctype != "application/json" {
			t.Errorf("GET %s: Content-Type %q", p, ans.ctype)
		}
		_, unserved := haUnserved[p]
		notFound := strings.HasSuffix(p, "/no-such-item") || p == "/nonexistent" || p == "/collectors/bogus" || unserved
		if notFound {
			m, _ := ans.parsed.(map[string]any)
			if msg, _ := m["message"].(string); ans.code != http.StatusNotFound || m["success"] != false || msg == "" {
				t.Errorf("GET %s: want 404 {success:false,message}, got %d %s", p, ans.code, ans.body)
			}
			continue
		}
		if ans.code != http.StatusOK {
			t.Errorf("GET %s: status %d %s (the HA client wants 200)", p, ans.code, ans.body)
		}
	}

	if m, _ := answers["/health"].parsed.(map[string]any); m["status"] != "ok" {
		t.Errorf("/health = %s", answers["/health"].body)
	}
	// Every call of the integration's refresh, against its model: the
	// status, the shape, every field's type and the fields HA reads.
	valid, served := 0, 0
	for _, p := range haPolls {
		ans := answers[p.path]
		if why, ok := haUnserved[p.path]; ok {
			t.Logf("GET %s: %d, not served on purpose: %s", p.path, ans.code, why)
			continue
		}
		served++
		bad := checkPoll(p, ans, true)
		for _, b := range bad {
			t.Error(b)
		}
		if len(bad) == 0 {
			valid++
		}
	}
	for path, model := range haFallbacks {
		for _, b := range checkPoll(haPoll{path: path, model: model}, answers[path], true) {
			t.Error(b)
		}
	}
	t.Logf("Home Assistant's refresh: %d of %d polls answer 200 with data its models accept (%d more polled only with an option, answered 404: %v)",
		valid, served, len(haUnserved), sortedKeys(haUnserved))
	if valid != served {
		t.Errorf("%d of %d polls are refused by the integration", served-valid, served)
	}
	if m, ok := answers["/health"].parsed.(map[string]any); !ok {
		t.Errorf("GET /health is not an object: %s", answers["/health"].body)
	} else {
		for _, bad := range haCheck("GET /health", "HealthStatus", m, true) {
			t.Error(bad)
		}
	}
	// Unraid's service settings (the fixture's docker.cfg and domain.cfg
	// enable both), not towerd's collectors.
	for _, s := range []string{"docker", "vm"} {
		m, _ := answers["/settings/"+s].parsed.(map[string]any)
		if en, ok := m["enabled"].(bool); !ok || !en {
			t.Errorf("/settings/%s = %s; want enabled true (fixture)", s, answers["/settings/"+s].body)
		}
	}

	for _, e := range events {
		ans := answers[e.path]
		// Without its collector a route answers a default, which need
		// not carry every field towerd sends.
		for _, bad := range checkPayload("GET "+e.path, e, ans.parsed, installed[e.collector]) {
			t.Error(bad)
		}
		if !installed[e.collector] {
			// Defaults without a collector: [] or the documented object.
			switch {
			case e.list && string(ans.body) != "[]":
				t.Errorf("GET %s without a %s plugin = %s, want []", e.path, e.collector, ans.body)
			case e.path == "/ups" && string(ans.body) != `{"connected":false}`:
				t.Errorf("GET /ups without a plugin = %s", ans.body)
			case e.path == "/array" && string(ans.body) != `{"state":"unknown"}`:
				t.Errorf("GET /array without a plugin = %s", ans.body)
			}
			continue
		}
		// REST serves the same payload shape as the WebSocket data.
		ev, ok := seen[e.topic]
		if !ok {
			continue
		}
		wsData, _ := decode(ev.Data)
		if got, want := shape(ans.parsed), shape(wsData); got != want {
			t.Errorf("GET %s shape %s differs from the %s event's %s", e.path, got, e.topic, want)
		}
		if !e.list {
			continue
		}
		// Each item lookup finds the item it was asked for.
		for _, it := range ans.parsed.([]any) {
			m := it.(map[string]any)
			for _, k := range itemKeys[e.path] {
				s, _ := m[k].(string)
				if s == "" {
					continue
				}
				got := answers[e.path+"/"+url.PathEscape(s)]
				gm, _ := got.parsed.(map[string]any)
				if got.code != 200 || gm[k] != s {
					t.Errorf("GET %s/%s: %d %s", e.path, s, got.code, trim(got.body))
				}
			}
		}
	}

	// Domain sanity on the fixture tree (enums the integration maps).
	if installed["disk"] {
		for _, it := range answers["/disks"].parsed.([]any) {
			d := it.(map[string]any)
			if !oneOf(d["smart_status"], "PASSED", "FAILED", "UNKNOWN") || !oneOf(d["spin_state"], "active", "standby", "unknown") ||
				!oneOf(d["role"], "parity", "parity2", "data", "cache", "pool", "flash", "docker_vdisk", "log") {
				t.Errorf("disk %v: smart_status %v, spin_state %v, role %v", d["id"], d["smart_status"], d["spin_state"], d["role"])
			}
		}
		if installed["vm"] && len(answers["/vm"].parsed.([]any)) == 0 {
			t.Error("/vm is empty; libvirt's test driver has a domain")
		}
		roles := map[any]bool{}
		for _, it := range answers["/disks"].parsed.([]any) {
			roles[it.(map[string]any)["role"]] = true
		}
		if !roles["data"] || !roles["docker_vdisk"] || !roles["log"] {
			t.Errorf("the fixture tree has data disks, docker.img and the log tmpfs; /disks has roles %v", roles)
		}
	}
	if installed["array"] {
		m := answers["/array"].parsed.(map[string]any)
		if !oneOf(m["parity_check_status"], "", "idle", "running", "paused", "clearing", "reconstructing") {
			t.Errorf("parity_check_status %v", m["parity_check_status"])
		}
		// The fixture's check: the webGUI's display strings.
		if m["sync_speed"] != "190.0 MB/s" || m["sync_eta"] != "7h 1m" || fmt.Sprint(m["total_disks"]) != fmt.Sprint(m["num_disks"]) {
			t.Errorf("sync_speed %v, sync_eta %v, total_disks %v (num_disks %v)", m["sync_speed"], m["sync_eta"], m["total_disks"], m["num_disks"])
		}
	}

	// Values the integration interprets beyond their type
	// (docs/ha-models.md): enums it maps, the date form it compares as
	// strings, the keys it builds entities from.
	obj := func(p string) map[string]any { m, _ := answers[p].parsed.(map[string]any); return m }
	notes, _ := obj("/notifications")["notifications"].([]any)
	for _, it := range notes {
		n, _ := it.(map[string]any)
		if !oneOf(n["importance"], "info", "normal", "warning", "alert") || !isTimestamp(n["timestamp"]) || !isString(n["id"]) {
			t.Errorf("notification %v: importance %v, timestamp %v", n["id"], n["importance"], n["timestamp"])
		}
	}
	if len(notes) == 0 {
		t.Error("/notifications is empty; the fixture tree has unread and archived notifications")
	}
	records, _ := obj("/array/parity-check/history")["records"].([]any)
	for _, it := range records {
		if r, _ := it.(map[string]any); !isTimestamp(r["date"]) || !strings.HasSuffix(r["date"].(string), "Z") {
			t.Errorf("parity record date %v: the integration picks the latest by string, so one RFC 3339 UTC form", r["date"])
		}
	}
	if len(records) == 0 {
		t.Error("/array/parity-check/history has no record; the fixture has parity-checks.log")
	}
	if sc := obj("/array/parity-check/schedule"); !oneOf(sc["mode"], "disabled", "manual", "daily", "weekly", "monthly", "yearly", "custom") {
		t.Errorf("parity schedule mode %v", sc["mode"])
	}
	if ns := obj("/settings/network-services"); ns["syslog"] == nil {
		t.Error("/settings/network-services lacks syslog (the integration's key; the reference's syslog_server gives no entity)")
	}
	for _, it := range answers["/zfs/pools"].parsed.([]any) {
		if p, _ := it.(map[string]any); !oneOf(p["health"], "ONLINE", "DEGRADED", "FAULTED", "OFFLINE", "UNAVAIL", "REMOVED") {
			t.Errorf("zfs pool %v: health %v", p["name"], p["health"])
		}
	}
	st := obj("/diagnostics/self-test")
	subs, _ := st["subsystems"].([]any)
	for _, it := range subs {
		if sub, _ := it.(map[string]any); !oneOf(sub["state"], "healthy", "degraded", "unavailable", "disabled") {
			t.Errorf("self-test subsystem %v: state %v", sub["subsystem"], sub["state"])
		}
	}
	if !oneOf(st["overall_state"], "healthy", "degraded", "unavailable") || len(subs) == 0 {
		t.Errorf("self-test overall_state %v with %d subsystems", st["overall_state"], len(subs))
	}

	// --- Collector management, as the integration reads it. ---
	checkCollectorStatus(t, answers["/collectors/status"])
	for _, c := range []string{"system", "array", "disk", "docker", "vm", "ups", "gpu", "network", "shares"} {
		m, _ := answers["/collectors/"+c].parsed.(map[string]any)
		col, _ := m["collector"].(map[string]any)
		if m["success"] != true || col["name"] != c {
			t.Errorf("GET /collectors/%s = %s", c, trim(answers["/collectors/"+c].body))
		}
	}
	// Disable and enable through REST: the 200 action response shape, and
	// the default while disabled.
	for _, verb := range []string{"disable", "enable"} {
		code, body := a.Do(t, http.MethodPost, "/api/v1/collectors/ups/"+verb, "")
		v, _ := decode(body)
		m, _ := v.(map[string]any)
		if code != 200 || m["success"] != true || !isString(m["message"]) || !isTimestamp(m["timestamp"]) {
			t.Errorf("POST /collectors/ups/%s: %d %s", verb, code, body)
		}
		for _, bad := range haCheck("POST /collectors/ups/"+verb, "ActionResponse", m, false) {
			t.Error(bad)
		}
		if verb == "disable" {
			if code, body := a.Do(t, http.MethodGet, "/api/v1/ups", ""); code != 200 || string(body) != `{"connected":false}` {
				t.Errorf("GET /ups while disabled: %d %s", code, body)
			}
		}
	}
	if code, body := a.Do(t, http.MethodPatch, "/api/v1/collectors/network/interval", `{"interval":4}`); code != 400 || !strings.Contains(string(body), `"message"`) {
		t.Errorf("PATCH interval 4: %d %s", code, body)
	}
	if code, body := a.Do(t, http.MethodPost, "/api/v1/collectors/system/disable", ""); code != 400 {
		t.Errorf("disable system: %d %s (want 400)", code, body)
	}
	if code, body := a.Do(t, http.MethodPost, "/api/v1/docker/NOT-HEX!/start", ""); code != 400 || !strings.Contains(string(body), `"message"`) {
		t.Errorf("docker action with a bad id: %d %s", code, body)
	}
	if os.Getenv("TOWERD_HA_DUMP") != "" { // for looking at what a client sees
		for _, p := range haPolls {
			t.Logf("%s: %s", p.path, answers[p.path].body)
		}
	}
}

// Every poll answers 200 with data the integration's models accept even
// where there is nothing to report: before any collector has run (none
// installed: the core's defaults), and with the unraid and zfs bundles on
// an empty root (no Unraid files, no zpool: what the plugins send for
// missing sources). A slow first collect or a missing file never makes the
// integration drop a slot; /docker/updates stays the documented 404.
func TestHomeAssistantDefaults(t *testing.T) {
	t.Parallel()
	bundles := coretest.Plugins(t, "unraid", "zfs")
	for _, tc := range []struct {
		name    string
		plugins map[string]string
	}{{"no collector", map[string]string{}}, {"bundles on an empty root", bundles}} {
		t.Run(tc.name, func(t *testing.T) {
			a := coretest.Start(t, coretest.Options{Plugins: tc.plugins, Root: t.TempDir()})
			if len(tc.plugins) > 0 {
				// The bundles have described their collectors (a moment
				// after the core answers), and each has run once, with data
				// or with an error.
				waitListed(t, a, bundleCollectors)
				for _, n := range bundleCollectors {
					a.WaitCollector(t, n, 60*time.Second, func(c coretest.Collector) bool {
						code, _ := a.Do(t, http.MethodGet, "/api/v1/collectors/"+n+"/data", "")
						return c.Status == "running" && (c.ErrorCount > 0 || code == http.StatusOK)
					})
				}
			}
			var paths []string
			for _, p := range haPolls {
				paths = append(paths, p.path)
			}
			for p := range haFallbacks {
				paths = append(paths, p)
			}
			answers := pollAll(t, a, paths)
			for _, p := range haPolls {
				ans := answers[p.path]
				if _, ok := haUnserved[p.path]; ok {
					if ans.code != http.StatusNotFound {
						t.Errorf("GET %s: %d %s, want the documented 404", p.path, ans.code, trim(ans.body))
					}
					continue
				}
				for _, b := range checkPoll(p, ans, false) {
					t.Error(b)
				}
			}
			for path, model := range haFallbacks {
				for _, b := range checkPoll(haPoll{path: path, model: model}, answers[path], false) {
					t.Error(b)
				}
			}
			if os.Getenv("TOWERD_HA_DUMP") != "" {
				for _, p := range haPolls {
					t.Logf("%s: %s", p.path, trim(answers[p.path].body))
				}
			}
		})
	}
}

// waitListed waits until /collectors/status lists every name: a bundle's
// collectors appear once the core has asked the process to describe them,
// a moment after the core answers.
func waitListed(t *testing.T, a *coretest.Agent, names []string) {
	t.Helper()
	plugintest.Eventually(t, 30*time.Second, func() bool {
		st := statusByName(t, a)
		for _, n := range names {
			if _, ok := st[n]; !ok {
				return false
			}
		}
		return true
	}, "not every collector of %v is listed\n%s", names, a)
}

// checkPoll returns why the integration would drop one poll's answer:
// not 200, the wrong shape, a field its model refuses, a field it reads
// that is missing, or an empty list where the fixture has items.
//
// With sendChecks false (the defaults served before a first collect) the
// fields HA reads may be missing and lists may be empty.
func checkPoll(p haPoll, ans answer, sendChecks bool) []string {
	where := "GET " + p.path
	switch {
	case ans.err != nil:
		return []string{fmt.Sprintf("%s: %v", where, ans.err)}
	case ans.code != http.StatusOK:
		return []string{fmt.Sprintf("%s: status %d %s (the integration wants 200)", where, ans.code, trim(ans.body))}
	}
	if !p.list {
		m, ok := ans.parsed.(map[string]any)
		if !ok {
			return []string{where + ": not a JSON object: " + trim(ans.body)}
		}
		return haCheck(where, p.model, m, sendChecks)
	}
	items, ok := ans.parsed.([]any)
	if !ok {
		return []string{where + ": not a JSON array (the integration loses the whole list): " + trim(ans.body)}
	}
	if sendChecks && p.filled && len(items) == 0 {
		return []string{where + ": empty, but the fixture tree has items"}
	}
	return haCheckItems(where, p.model, items, sendChecks)
}

// haCheckItems checks each item of a JSON list against model.
func haCheckItems(where, model string, items []any, sendChecks bool) []string {
	var bad []string
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s[%d]: not an object", where, i))
			continue
		}
		bad = append(bad, haCheck(fmt.Sprintf("%s[%d]", where, i), model, m, sendChecks)...)
	}
	return bad
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkCollectorStatus(t *testing.T, ans answer) {
	t.Helper()
	m, ok := ans.parsed.(map[string]any)
	if !ok {
		t.Fatalf("/collectors/status is not an object: %s", ans.body)
	}
	names := map[string]bool{}
	for _, it := range m["collectors"].([]any) {
		c, _ := it.(map[string]any)
		name, _ := c["name"].(string)
		names[name] = true
	}
	// The nine plugins and the gates the integration reads (notification, zfs).
	for _, n := range []string{"system", "array", "disk", "docker", "vm", "ups", "gpu", "network", "shares", "notification", "zfs"} {
		if !names[n] {
			t.Errorf("/collectors/status lacks %s (HA creates entity groups from name+enabled)", n)
		}
	}
}

func eventByTopic(topic string) *event {
	for i := range events {
		if events[i].topic == topic {
			return &events[i]
		}
	}
	return nil
}

// shape is "object" or "array", for comparing REST with WebSocket data.
func shape(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func oneOf(v any, allowed ...string) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

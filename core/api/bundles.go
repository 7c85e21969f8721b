package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/towerd/towerd/sdk"
)

// The routes of the Unraid and ZFS bundles (plugins/unraid, plugins/zfs):
// the paths the Home Assistant integration calls, each served from the
// cached payload of one collector's topic (see docs/rest-extended.md).
// Like the routes in monitor.go they never wait on a plugin, and answer
// defaults of the right shape before the first collect.

// view serves one path from a topic's payload, optionally reshaped.
type view struct {
	path, topic, collector string
	// fallback is served before the first collect or while disabled.
	fallback string
	// shape, if set, derives the answer from the payload (a sub-object,
	// a filtered list); it returns the status and body.
	shape   func(payload []byte, r *http.Request) (int, any)
	summary string
}

const (
	topicNotifications = "notifications_update"
	topicOSUpdate      = "os_update_update"
	topicPlugins       = "plugins_update"
)

const emptyCounts = `{"info":0,"warning":0,"alert":0,"total":0}`

var bundleViews = []view{
	{path: "/notifications", topic: topicNotifications, collector: "notification", shape: notificationList(""),
		fallback: `{"overview":{"unread":` + emptyCounts + `,"archive":` + emptyCounts + `},"notifications":[],"total_count":0}`,
		summary:  "Notifications (unread newest first, then archived); ?importance=alert|warning|info|normal filters the list."},
	{path: "/notifications/overview", topic: topicNotifications, collector: "notification", shape: subObject("overview"),
		fallback: `{"unread":` + emptyCounts + `,"archive":` + emptyCounts + `}`, summary: "Notification counts per importance, unread and archived."},
	{path: "/notifications/unread", topic: topicNotifications, collector: "notification", shape: notificationList("unread"),
		fallback: `[]`, summary: "Unread notifications, newest first."},
	{path: "/notifications/archive", topic: topicNotifications, collector: "notification", shape: notificationList("archive"),
		fallback: `[]`, summary: "Archived notifications, newest first."},
	{path: "/notifications/{id}", topic: topicNotifications, collector: "notification", shape: notificationItem,
		summary: "One notification by id (its .notify file name)."},
	{path: "/array/parity-check/history", topic: "parity_history_update", collector: "parity_history",
		fallback: `{"records":[]}`, summary: "Finished parity operations from parity-checks.log, oldest first."},
	{path: "/array/parity-check/schedule", topic: "parity_schedule_update", collector: "parity_schedule",
		fallback: `{"mode":"manual","enabled":false,"correcting":true}`, summary: "The parity check schedule."},
	{path: "/user-scripts", topic: "user_scripts_update", collector: "user_scripts", fallback: `[]`, summary: "User Scripts plugin scripts."},
	{path: "/system/flash", topic: "flash_update", collector: "flash", fallback: `{}`, summary: "The USB flash boot drive."},
	{path: "/plugins", topic: topicPlugins, collector: "plugins",
		fallback: `{"plugins":[],"total_count":0,"total_plugins":0,"updates_available":0,"plugins_with_updates":0}`, summary: "Installed plugins and their update state."},
	{path: "/os/update", topic: topicOSUpdate, collector: "os_update",
		fallback: `{"current_version":"","update_available":false,"os_update_available":false,"status":"unknown"}`, summary: "Unraid OS version and update state."},
	{path: "/registration", topic: "registration_update", collector: "registration",
		fallback: `{"type":"unknown","state":"invalid"}`, summary: "The Unraid license."},
	{path: "/settings/network-services", topic: "network_services_update", collector: "network_services",
		fallback: `{}`, summary: "Network services: enabled and running."},
	{path: "/mover", topic: "mover_update", collector: "mover", fallback: `{"active":false}`, summary: "The mover: running, schedule, last run."},
	{path: "/settings/mover", topic: "mover_update", collector: "mover", fallback: `{"active":false}`,
		shape: pick("active", "schedule", "logging", "cache_floor_kb", "timestamp"), summary: "Mover settings."},
	{path: "/settings/disk-thresholds", topic: "disk_thresholds_update", collector: "disk_thresholds",
		fallback: `{"hdd_temp_warning_celsius":45,"hdd_temp_critical_celsius":55,"ssd_temp_warning_celsius":60,"ssd_temp_critical_celsius":70}`,
		summary:  "Disk settings and temperature/usage thresholds."},
	{path: "/unassigned", topic: "unassigned_devices_update", collector: "unassigned",
		fallback: `{"devices":[],"remote_shares":[]}`, summary: "Unassigned devices and remote shares."},
	{path: "/unassigned/devices", topic: "unassigned_devices_update", collector: "unassigned", fallback: `[]`,
		shape: subObject("devices"), summary: "Unassigned devices."},
	{path: "/unassigned/remote-shares", topic: "unassigned_devices_update", collector: "unassigned", fallback: `[]`,
		shape: subObject("remote_shares"), summary: "Remote SMB/NFS shares."},
	{path: "/fans", topic: "fan_control_update", collector: "fans",
		fallback: `{"fans":[],"profiles":[],"config":{},"summary":{"total_fans":0,"controllable_fans":0,"failed_fans":[]}}`, summary: "hwmon fans and PWM."},
	{path: "/zfs/pools", topic: "zfs_pools_update", collector: "zfs", fallback: `[]`, summary: "ZFS pools."},
	{path: "/zfs/datasets", topic: "zfs_datasets_update", collector: "zfs_datasets", fallback: `[]`, summary: "ZFS datasets."},
	{path: "/zfs/snapshots", topic: "zfs_snapshots_update", collector: "zfs_snapshots", fallback: `[]`, summary: "ZFS snapshots (newest 5000)."},
	{path: "/zfs/arc", topic: "zfs_arc_stats_update", collector: "zfs_arc",
		fallback: `{"available":false,"size_bytes":0,"target_size_bytes":0,"hits":0,"misses":0,"hit_ratio_percent":0}`, summary: "ZFS ARC statistics."},
}

func (s *Server) bundleRoutes(r prefixed) {
	for _, v := range bundleViews {
		r.HandleFunc(v.path, s.serveView(v)).Methods(http.MethodGet)
	}
	r.HandleFunc("/updates", s.updates).Methods(http.MethodGet)
	r.HandleFunc("/diagnostics/self-test", s.selfTest).Methods(http.MethodGet)

	r.HandleFunc("/notifications", s.bundleAct("notification", "create", "", nil)).Methods(http.MethodPost)
	r.HandleFunc("/notifications/archive/all", s.bundleAct("notification", "archive-all", "", nil)).Methods(http.MethodPost)
	r.HandleFunc("/notifications/{id}/archive", s.bundleAct("notification", "archive", "id", nil)).Methods(http.MethodPost)
	r.HandleFunc("/notifications/{id}/unarchive", s.bundleAct("notification", "unarchive", "id", nil)).Methods(http.MethodPost)
	r.HandleFunc("/notifications/{id}", s.bundleAct("notification", "delete", "id", nil)).Methods(http.MethodDelete)
	r.HandleFunc("/user-scripts/{name}/execute", s.bundleAct("user_scripts", "execute", "name", scriptResponse)).Methods(http.MethodPost)
	r.HandleFunc("/fans/speed", s.bundleAct("fans", "speed", "", nil)).Methods(http.MethodPost)
	r.HandleFunc("/unassigned/remote-shares/mount", s.bundleAct("unassigned", "mount", "", nil)).Methods(http.MethodPost)
	r.HandleFunc("/unassigned/remote-shares/unmount", s.bundleAct("unassigned", "unmount", "", nil)).Methods(http.MethodPost)
}

// bundleOperations documents the routes above in openapi.json.
func bundleOperations() []operation {
	var ops []operation
	for _, v := range bundleViews {
		op := operation{method: "GET", path: v.path, tag: "unraid", summary: v.summary + " Collector " + v.collector + ", topic " + v.topic + ".", response: "Any"}
		if v.path == "/notifications/{id}" {
			op.errors = []int{400, 404}
		}
		if v.path == "/notifications" {
			op.query = []queryParam{{"importance", "string", "alert, warning, info (info and normal) or normal"}}
		}
		ops = append(ops, op)
	}
	acts := []struct{ method, path, summary string }{
		{"POST", "/notifications", "Create a notification: body {title, subject, description, importance (normal|info|warning|alert), link}."},
		{"POST", "/notifications/archive/all", "Archive every unread notification."},
		{"POST", "/notifications/{id}/archive", "Archive one notification."},
		{"POST", "/notifications/{id}/unarchive", "Move an archived notification back to unread."},
		{"DELETE", "/notifications/{id}", "Delete a notification."},
		{"POST", "/user-scripts/{name}/execute", "Run a user script: body {background, wait}; with wait the answer holds output and exit_code."},
		{"POST", "/fans/speed", "Set a fan's speed: body {fan_id, speed_percent 1-100}; never stops a fan."},
		{"POST", "/unassigned/remote-shares/mount", "Mount a remote share: body {source}."},
		{"POST", "/unassigned/remote-shares/unmount", "Unmount a remote share: body {source}."},
	}
	for _, a := range acts {
		ops = append(ops, operation{method: a.method, path: a.path, tag: "unraid", summary: a.summary, errors: []int{400, 404, 409, 503}})
	}
	return append(ops,
		operation{method: "GET", path: "/updates", tag: "unraid", summary: "OS and plugin updates (fallback of /os/update).", response: "Any"},
		operation{method: "GET", path: "/diagnostics/self-test", tag: "unraid", summary: "Each collector's health as a subsystem state.", response: "Any"})
}

func (s *Server) serveView(v view) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ev, ok := s.bus.Latest(v.topic)
		switch {
		case !ok && v.fallback == "": // an item route: nothing to look in yet
			writeError(w, http.StatusNotFound, "collector "+v.collector+" has not produced data yet")
		case !ok:
			writeRaw(w, http.StatusOK, []byte(v.fallback))
		case v.shape == nil:
			writeRaw(w, http.StatusOK, ev.Data)
		default:
			code, body := v.shape(ev.Data, r)
			if msg, isMsg := body.(string); isMsg && code != http.StatusOK {
				writeError(w, code, msg)
				return
			}
			writeJSON(w, code, body)
		}
	}
}

// subObject serves one key of an object payload.
func subObject(key string) func([]byte, *http.Request) (int, any) {
	return func(payload []byte, _ *http.Request) (int, any) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(payload, &m); err != nil || m[key] == nil {
			return http.StatusInternalServerError, "cached payload has no " + key
		}
		return http.StatusOK, m[key]
	}
}

// pick serves some keys of an object payload.
func pick(keys ...string) func([]byte, *http.Request) (int, any) {
	return func(payload []byte, _ *http.Request) (int, any) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(payload, &m); err != nil {
			return http.StatusInternalServerError, "cached payload is not an object"
		}
		out := map[string]json.RawMessage{}
		for _, k := range keys {
			if v, ok := m[k]; ok {
				out[k] = v
			}
		}
		return http.StatusOK, out
	}
}

type notificationsPayload struct {
	Overview      json.RawMessage              `json:"overview"`
	Notifications []map[string]json.RawMessage `json:"notifications"`
	TotalCount    int                          `json:"total_count"`
	Timestamp     json.RawMessage              `json:"timestamp"`
}

var importanceParam = regexp.MustCompile(`^[a-z]{1,16}$`)

func stringField(item map[string]json.RawMessage, key string) string {
	var v string
	_ = json.Unmarshal(item[key], &v)
	return v
}

// notificationList serves the list of kind (unread, archive) as an array,
// or for "" the whole object with ?importance= applied.
func notificationList(kind string) func([]byte, *http.Request) (int, any) {
	return func(payload []byte, r *http.Request) (int, any) {
		var p notificationsPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return http.StatusInternalServerError, "cached notifications payload is malformed"
		}
		imp := strings.ToLower(r.URL.Query().Get("importance"))
		if imp != "" && !importanceParam.MatchString(imp) {
			return http.StatusBadRequest, "importance must be alert, warning, info or normal"
		}
		list := make([]map[string]json.RawMessage, 0, len(p.Notifications))
		for _, n := range p.Notifications {
			if kind != "" && stringField(n, "type") != kind {
				continue
			}
			if got := strings.ToLower(stringField(n, "importance")); imp != "" && got != imp && !(imp == "info" && got == "normal") {
				continue
			}
			list = append(list, n)
		}
		if kind != "" {
			return http.StatusOK, list
		}
		p.Notifications = list
		return http.StatusOK, p
	}
}

func notificationItem(payload []byte, r *http.Request) (int, any) {
	id := pathVar(r, "id")
	if len(id) > maxIDLength {
		return http.StatusBadRequest, "id is too long"
	}
	var p notificationsPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return http.StatusInternalServerError, "cached notifications payload is malformed"
	}
	for _, n := range p.Notifications {
		if stringField(n, "id") == id {
			return http.StatusOK, n
		}
	}
	return http.StatusNotFound, "no notification " + quoteForMessage(id)
}

// updates is the reference agent's /updates: the OS update state plus the
// plugins with updates, from two collectors' payloads.
func (s *Server) updates(w http.ResponseWriter, _ *http.Request) {
	out := map[string]any{"current_version": "", "os_update_available": false, "total_plugins": 0, "plugin_updates_count": 0,
		"timestamp": time.Now().UTC().Format(time.RFC3339)}
	if ev, ok := s.bus.Latest(topicOSUpdate); ok {
		var os struct {
			Current string `json:"current_version"`
			Latest  string `json:"latest_version"`
			Avail   bool   `json:"update_available"`
		}
		if json.Unmarshal(ev.Data, &os) == nil {
			out["current_version"], out["os_update_available"] = os.Current, os.Avail
			if os.Latest != "" {
				out["latest_version"] = os.Latest
			}
		}
	}
	if ev, ok := s.bus.Latest(topicPlugins); ok {
		var pl struct {
			Plugins []map[string]json.RawMessage `json:"plugins"`
		}
		if json.Unmarshal(ev.Data, &pl) == nil {
			var with []map[string]json.RawMessage
			for _, p := range pl.Plugins {
				if string(p["update_available"]) == "true" {
					with = append(with, p)
				}
			}
			out["total_plugins"], out["plugin_updates_count"] = len(pl.Plugins), len(with)
			if len(with) > 0 {
				out["plugins_with_updates"] = with
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// bundleAct forwards a POST/DELETE to a collector's action: the target
// from the path variable idVar (or the body's fan_id/source), the body's
// fields as params. reshape, if set, turns the plugin's message into the
// answer.
func (s *Server) bundleAct(collector, action, idVar string, reshape func(string) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		params, _, code, err := actionParams(r)
		if err != nil {
			writeError(w, code, err.Error())
			return
		}
		target := ""
		if idVar != "" {
			target = pathVar(r, idVar)
		}
		if len(target) > maxIDLength || strings.ContainsAny(target, "/\x00") {
			writeError(w, http.StatusBadRequest, "invalid "+idVar+" "+quoteForMessage(target))
			return
		}
		s.forward(w, r, collector, sdk.Action{Name: action, Target: target, Params: params}, reshape)
	}
}

// scriptResponse is HA's UserScriptExecuteResponse: the plugin's message
// is a JSON object {message, output, exit_code}.
func scriptResponse(msg string) any {
	out := map[string]any{"success": true, "message": msg, "timestamp": time.Now().UTC().Format(time.RFC3339)}
	var r struct {
		Message  string `json:"message"`
		Output   string `json:"output"`
		ExitCode *int   `json:"exit_code"`
	}
	if json.Unmarshal([]byte(msg), &r) == nil && r.Message != "" {
		out["message"], out["output"] = r.Message, r.Output
		if r.ExitCode != nil {
			out["exit_code"] = *r.ExitCode
		}
	}
	return out
}

// selfTest reports each collector's health as a subsystem, the worst as
// overall_state (disabled ranks as healthy).
func (s *Server) selfTest(w http.ResponseWriter, _ *http.Request) {
	now := time.Now().UTC().Format(time.RFC3339)
	rank := map[string]int{"healthy": 0, "disabled": 0, "degraded": 1, "unavailable": 2}
	overall := "healthy"
	subs := []map[string]any{}
	items := []map[string]any{}
	for _, c := range s.control.Collectors() {
		state, reason := "healthy", ""
		switch {
		case !c.Enabled:
			state, reason = "disabled", "collector disabled"
		case !c.Installed:
			state, reason = "unavailable", "plugin not installed"
		case c.Status == "failed":
			state, reason = "unavailable", c.LastError
		case c.Status != "running" || c.LastError != "":
			state, reason = "degraded", c.LastError
			if reason == "" {
				reason = "status " + c.Status
			}
		}
		sub := map[string]any{"subsystem": c.Name, "state": state, "last_checked": now, "source_status": c.Status}
		if reason != "" {
			sub["reason"] = reason
		}
		if c.LastError != "" {
			sub["last_error"] = c.LastError
		}
		if !c.LastSuccess.IsZero() {
			sub["last_healthy"] = c.LastSuccess.UTC().Format(time.RFC3339)
		}
		subs = append(subs, sub)
		items = append(items, map[string]any{"name": c.Name, "available": c.Installed && c.Enabled})
		if rank[state] > rank[overall] {
			overall = state
		}
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i]["subsystem"].(string) < subs[j]["subsystem"].(string) })
	version := ""
	if ev, ok := s.bus.Latest(topicOSUpdate); ok {
		var v struct {
			Current string `json:"current_version"`
		}
		if json.Unmarshal(ev.Data, &v) == nil {
			version = v.Current
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"unraid_version": version, "overall_state": overall,
		"capabilities": map[string]any{"unraid_version": version, "items": items},
		"subsystems":   subs, "timestamp": now})
}

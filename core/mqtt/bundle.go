package mqtt

import (
	"encoding/json"
	"strconv"
)

// The bundles' topics (plugins/unraid and plugins/zfs; shapes in
// docs/rest-extended.md): each gets a state topic of its own instead of
// topics/<topic>, per-item topics where the payload holds a list, a few
// derived topics (the newest unread notification, the last parity
// operation) so Home Assistant templates stay simple, and its entities.
// The other bundle topics (registration, network services, thresholds,
// unassigned, datasets, snapshots, ARC) stay under topics/<topic>.
type bundleSpec struct {
	path string // state sub-topic
	// list: "" no items, "." the payload is the list, else the field of
	// the payload object holding it; key: the item field naming its topic.
	list, key string
}

var bundleTopics = map[string]bundleSpec{
	"notifications_update":   {path: "notifications"},
	"parity_history_update":  {path: "parity_history"},
	"parity_schedule_update": {path: "parity_schedule"},
	"user_scripts_update":    {path: "user_scripts", list: ".", key: "name"},
	"flash_update":           {path: "flash"},
	"plugins_update":         {path: "plugins", list: "plugins", key: "name"},
	"os_update_update":       {path: "os_update"},
	"mover_update":           {path: "mover"},
	"fan_control_update":     {path: "fans", list: "fans", key: "id"},
	"zfs_pools_update":       {path: "zfs_pools", list: ".", key: "name"},
}

// bundleItems returns the list a bundle payload holds (nil if none).
func bundleItems(spec bundleSpec, data []byte) []json.RawMessage {
	var items []json.RawMessage
	switch spec.list {
	case "":
		return nil
	case ".":
		_ = json.Unmarshal(data, &items)
	default:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) == nil {
			_ = json.Unmarshal(obj[spec.list], &items)
		}
	}
	return items
}

// derived returns the extra state topics (sub-topic of the bundle's path
// → payload) computed from a bundle payload.
func derived(topic string, data []byte) map[string][]byte {
	switch topic {
	case "notifications_update":
		// The newest unread notification (the list is unread newest
		// first, then archived); {} when none is unread.
		var p struct {
			Notifications []json.RawMessage `json:"notifications"`
		}
		latest := []byte("{}")
		if json.Unmarshal(data, &p) == nil {
			for _, n := range p.Notifications {
				var t struct {
					Type string `json:"type"`
				}
				if json.Unmarshal(n, &t) == nil && t.Type == "unread" {
					latest = n
					break
				}
			}
		}
		return map[string][]byte{"latest": latest}
	case "parity_history_update":
		var p struct {
			Records []json.RawMessage `json:"records"`
		}
		last := []byte("{}")
		if json.Unmarshal(data, &p) == nil && len(p.Records) > 0 {
			last = p.Records[len(p.Records)-1] // oldest first
		}
		return map[string][]byte{"last": last}
	case "parity_schedule_update":
		return map[string][]byte{"next": nextParityCheck(data)}
	}
	return nil
}

// bundleEntities: the entities of a bundle topic's object (not of items).
func (o *Output) bundleEntities(topic string) []entity {
	spec := bundleTopics[topic]
	st := o.topic(spec.path)
	switch topic {
	case "notifications_update":
		latest := st + "/latest"
		last := sensor("notification_latest", "Latest notification", latest, "subject | default('')", "", "")
		last.cfg["json_attributes_topic"] = latest
		last.cfg["icon"] = "mdi:bell"
		return []entity{
			sensor("notifications_unread", "Unread notifications", st, "overview.unread.total", "", ""),
			sensor("notifications_info", "Unread info notifications", st, "overview.unread.info", "", ""),
			sensor("notifications_warning", "Unread warning notifications", st, "overview.unread.warning", "", ""),
			sensor("notifications_alert", "Unread alert notifications", st, "overview.unread.alert", "", ""),
			sensor("notifications_archived", "Archived notifications", st, "overview.archive.total", "", ""),
			last,
			button("notifications_archive_all", "Archive all notifications", o.topic("cmd/notifications/archive/all")),
		}
	case "parity_history_update":
		last := st + "/last"
		date := sensor("parity_last_check", "Last parity check", last, "date | default(None)", "", "timestamp")
		date.cfg["json_attributes_topic"] = last
		return []entity{
			date,
			sensor("parity_last_duration", "Last parity check duration", last, "duration_seconds | default(None)", "s", "duration"),
			sensor("parity_last_errors", "Last parity check errors", last, "errors | default(None)", "", ""),
			sensor("parity_last_status", "Last parity check status", last, "status | default(None)", "", ""),
		}
	case "parity_schedule_update":
		next := sensor("parity_next_check", "Next parity check", st+"/next", "next_check", "", "timestamp")
		return []entity{next, sensor("parity_schedule_mode", "Parity check schedule", st, "mode", "", "")}
	case "flash_update":
		return []entity{
			sensor("flash_usage", "Flash usage", st, "usage_percent", "%", ""),
			sensor("flash_used", "Flash used", st, "used_bytes", "B", "data_size"),
			sensor("flash_free", "Flash free", st, "free_bytes", "B", "data_size"),
		}
	case "plugins_update":
		return []entity{
			binary("plugin_updates_available", "Plugin updates", st, "updates_available > 0", "update"),
			sensor("plugin_updates_count", "Plugins with updates", st, "updates_available", "", ""),
		}
	case "os_update_update":
		return []entity{
			binary("os_update_available", "Unraid OS update", st, "os_update_available", "update"),
			sensor("os_version", "Unraid version", st, "current_version", "", ""),
			sensor("os_latest_version", "Unraid latest version", st, "latest_version | default(value_json.current_version)", "", ""),
		}
	case "mover_update":
		return []entity{
			binary("mover_running", "Mover running", st, "active", "running"),
			sensor("mover_last_run", "Mover last run", st, "last_run_finish | default(None)", "", "timestamp"),
		}
	}
	return nil
}

// bundleItemEntities: the entities of one item of a bundle list.
func (o *Output) bundleItemEntities(topic, key, state string, raw []byte) []entity {
	s, cmdKey := slug(key), topicLevel(key)
	switch topic {
	case "user_scripts_update":
		id, name := "script_"+s+"_", "User script "+key
		return []entity{
			button(id+"run", name+" run", o.topic("cmd/user-scripts/"+cmdKey+"/execute")),
			binary(id+"running", name+" running", state, "running", "running"),
		}
	case "fan_control_update":
		var f struct {
			Name         string `json:"name"`
			Controllable bool   `json:"controllable"`
		}
		_ = json.Unmarshal(raw, &f)
		label := "Fan " + key
		if f.Name != "" {
			label = f.Name + " (" + key + ")"
		}
		id := "fan_" + s + "_"
		rpm := sensor(id+"rpm", label+" speed", state, "rpm", "RPM", "")
		rpm.cfg["icon"] = "mdi:fan"
		ents := []entity{rpm}
		if f.Controllable {
			// Sets the PWM through POST /fans/speed; the fan id goes in the
			// body, which REST validates (0 % refused, unknown fan 404).
			ents = append(ents, entity{component: "number", id: id + "speed", cfg: map[string]any{
				"name": label + " PWM", "state_topic": state, "value_template": "{{ value_json.pwm_percent }}",
				"command_topic":    o.topic("cmd/fans/speed"),
				"command_template": `{"fan_id":` + strconv.Quote(key) + `,"speed_percent":{{ value | int }}}`,
				"min":              1, "max": 100, "step": 1, "unit_of_measurement": "%", "mode": "slider",
			}})
		}
		return ents
	case "zfs_pools_update":
		id, name := "zfs_"+s+"_", "ZFS pool "+key+" "
		return []entity{
			sensor(id+"health", name+"health", state, "health", "", ""),
			sensor(id+"usage", name+"usage", state, "capacity_percent", "%", ""),
			sensor(id+"free", name+"free", state, "free_bytes", "B", "data_size"),
			binary(id+"problem", name+"problem", state, "health != 'ONLINE'", "problem"),
		}
	}
	return nil // plugins: per-item state only (their update count is on the object)
}

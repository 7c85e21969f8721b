package mqtt

import (
	"encoding/json"
	"strings"

	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/sdk/schema"
)

// entity is one Home Assistant entity before the common fields (unique_id,
// availability, device, origin) are added.
type entity struct {
	component string // sensor, binary_sensor, switch, button
	id        string // object id, unique within this server; also the stem of unique_id
	cfg       map[string]any
}

// config is the retained discovery payload of e.
func (o *Output) config(e entity) []byte {
	c := make(map[string]any, len(e.cfg)+6)
	for k, v := range e.cfg {
		c[k] = v
	}
	c["unique_id"] = o.node + "_" + e.id
	c["availability_topic"] = o.topic("availability")
	c["device"] = o.device
	c["origin"] = map[string]any{"name": "towerd", "sw_version": o.opts.Version}
	b, _ := json.Marshal(c) // maps marshal with sorted keys: equal configs are equal bytes
	return b
}

// deviceInfo describes this server as one Home Assistant device; system
// is the latest system payload (nil before the first).
func (o *Output) deviceInfo(system []byte) map[string]any {
	d := map[string]any{
		"identifiers":  []string{o.node},
		"name":         o.opts.Hostname,
		"manufacturer": "Lime Technology",
		"model":        "Unraid server",
		"sw_version":   "towerd " + o.opts.Version,
	}
	if o.opts.StatusURL != "" {
		d["configuration_url"] = o.opts.StatusURL
	}
	var s schema.System
	if system != nil && json.Unmarshal(system, &s) == nil {
		if s.ServerModel != "" {
			d["model"] = s.ServerModel
		}
		if s.Version != "" {
			d["sw_version"] = "Unraid " + s.Version
		}
	}
	return d
}

// Entity builders. value_json.<field> reads the state topic's JSON.

func sensor(id, name, state, field, unit, class string) entity {
	c := map[string]any{"name": name, "state_topic": state, "value_template": "{{ value_json." + field + " }}"}
	if unit != "" {
		c["unit_of_measurement"] = unit
		c["state_class"] = "measurement"
	}
	if class != "" {
		c["device_class"] = class
	}
	return entity{component: "sensor", id: id, cfg: c}
}

func counter(id, name, state, field string) entity {
	e := sensor(id, name, state, field, "B", "data_size")
	e.cfg["state_class"] = "total_increasing"
	return e
}

func binary(id, name, state, field, class string) entity {
	c := map[string]any{"name": name, "state_topic": state,
		"value_template": "{{ 'ON' if value_json." + field + " else 'OFF' }}"}
	if class != "" {
		c["device_class"] = class
	}
	return entity{component: "binary_sensor", id: id, cfg: c}
}

func button(id, name, command string) entity {
	return entity{component: "button", id: id, cfg: map[string]any{
		"name": name, "command_topic": command, "payload_press": "{}"}}
}

// runSwitch is on while value_json.state is "running"; it sends "start"
// and "stop" to command (cmd/<kind>/<name>, whose payload is the action).
func runSwitch(id, name, state, command string) entity {
	return entity{component: "switch", id: id, cfg: map[string]any{
		"name": name, "state_topic": state, "command_topic": command,
		"value_template": "{{ 'ON' if value_json.state == 'running' else 'OFF' }}",
		"state_on":       "ON", "state_off": "OFF", "payload_on": "start", "payload_off": "stop",
	}}
}

// objectEntities: the entities of system, array and UPS.
func (o *Output) objectEntities(topic string, data []byte) []entity {
	switch topic {
	case schema.TopicSystem:
		st := o.topic("system")
		return []entity{
			sensor("cpu_usage", "CPU usage", st, "cpu_usage_percent", "%", ""),
			sensor("cpu_temperature", "CPU temperature", st, "cpu_temp_celsius", "°C", "temperature"),
			sensor("motherboard_temperature", "Motherboard temperature", st, "motherboard_temp_celsius", "°C", "temperature"),
			sensor("ram_usage", "Memory usage", st, "ram_usage_percent", "%", ""),
			sensor("ram_used", "Memory used", st, "ram_used_bytes", "B", "data_size"),
			sensor("swap_usage", "Swap usage", st, "swap_usage_percent", "%", ""),
			sensor("uptime", "Uptime", st, "uptime_seconds", "s", "duration"),
		}
	case schema.TopicArray:
		st, cmd := o.topic("array"), o.topic("cmd/array/parity-check/")
		state := sensor("array_state", "Array state", st, "state", "", "")
		status := sensor("parity_check_status", "Parity check status", st, "parity_check_status", "", "")
		return []entity{
			state,
			sensor("array_usage", "Array usage", st, "used_percent", "%", ""),
			sensor("array_used", "Array used", st, "used_bytes", "B", "data_size"),
			sensor("array_free", "Array free", st, "free_bytes", "B", "data_size"),
			status,
			sensor("parity_check_progress", "Parity check progress", st, "parity_check_progress", "%", ""),
			binary("parity_valid", "Parity valid", st, "parity_valid", ""),
			binary("parity_check_running", "Parity check running", st, "parity_check_running", "running"),
			button("parity_check_start", "Start parity check", cmd+"start"),
			button("parity_check_stop", "Stop parity check", cmd+"stop"),
			button("parity_check_pause", "Pause parity check", cmd+"pause"),
			button("parity_check_resume", "Resume parity check", cmd+"resume"),
		}
	case schema.TopicUPS:
		var u schema.UPS
		if json.Unmarshal(data, &u) != nil || !u.Connected {
			return nil // no UPS: no entities (and those of a UPS that went away are removed)
		}
		st := o.topic("ups")
		return []entity{
			sensor("ups_status", "UPS status", st, "status", "", ""),
			sensor("ups_battery", "UPS battery", st, "battery_charge_percent", "%", "battery"),
			sensor("ups_load", "UPS load", st, "load_percent", "%", ""),
			sensor("ups_runtime", "UPS runtime left", st, "runtime_left_seconds", "s", "duration"),
			sensor("ups_power", "UPS power", st, "power_watts", "W", "power"),
		}
	}
	return nil
}

// itemEntities: the entities of one list item; state is its own topic.
func (o *Output) itemEntities(topic, key, state string, raw []byte) []entity {
	s, cmdKey := slug(key), topicLevel(key)
	switch topic {
	case schema.TopicDisks:
		var d schema.Disk
		_ = json.Unmarshal(raw, &d)
		id, name := "disk_"+s+"_", "Disk "+key+" "
		cmd := o.topic("cmd/disks/" + cmdKey + "/")
		ents := []entity{
			sensor(id+"temperature", name+"temperature", state, "temperature_celsius", "°C", "temperature"),
			sensor(id+"smart", name+"SMART", state, "smart_status", "", ""),
			sensor(id+"spin", name+"spin state", state, "spin_state", "", ""),
		}
		// A button per action the disk plugin declares (spinup, spindown):
		// the catalog is the one list of them.
		for _, a := range catalog.ActionsOf("disk") {
			ents = append(ents, button(id+a, name+strings.Replace(a, "spin", "spin ", 1), cmd+a))
		}
		if d.Filesystem != "" || d.SizeBytes > 0 && d.UsedBytes > 0 { // parity has no file system, so no usage
			ents = append(ents, sensor(id+"usage", name+"usage", state, "usage_percent", "%", ""))
		}
		return ents
	case schema.TopicContainers:
		id, name, cmd := "container_"+s+"_", "Container "+key, o.topic("cmd/docker/"+cmdKey)
		return []entity{
			runSwitch(id+"running", name, state, cmd),
			button(id+"restart", name+" restart", cmd+"/restart"),
			button(id+"pause", name+" pause", cmd+"/pause"),
			button(id+"unpause", name+" unpause", cmd+"/unpause"),
			sensor(id+"cpu", name+" CPU", state, "cpu_percent", "%", ""),
			sensor(id+"memory", name+" memory", state, "memory_usage_bytes", "B", "data_size"),
		}
	case schema.TopicVMs:
		id, name, cmd := "vm_"+s+"_", "VM "+key, o.topic("cmd/vm/"+cmdKey)
		return []entity{
			runSwitch(id+"running", name, state, cmd),
			sensor(id+"state", name+" state", state, "state", "", ""),
			button(id+"restart", name+" restart", cmd+"/restart"),
			button(id+"pause", name+" pause", cmd+"/pause"),
			button(id+"resume", name+" resume", cmd+"/resume"),
		}
	case schema.TopicGPU:
		id, name := "gpu_"+s+"_", "GPU "+key+" "
		return []entity{
			sensor(id+"temperature", name+"temperature", state, "temperature_celsius", "°C", "temperature"),
			sensor(id+"utilization", name+"utilization", state, "utilization_gpu_percent", "%", ""),
			sensor(id+"memory_used", name+"memory used", state, "memory_used_bytes", "B", "data_size"),
			sensor(id+"power", name+"power", state, "power_draw_watts", "W", "power"),
		}
	case schema.TopicNetwork:
		id, name := "nic_"+s+"_", "Network "+key+" "
		return []entity{
			sensor(id+"state", name+"state", state, "state", "", ""),
			sensor(id+"speed", name+"speed", state, "speed_mbps", "Mbit/s", "data_rate"),
			counter(id+"received", name+"received", state, "bytes_received"),
			counter(id+"sent", name+"sent", state, "bytes_sent"),
		}
	case schema.TopicShares:
		id, name := "share_"+s+"_", "Share "+key+" "
		return []entity{
			sensor(id+"usage", name+"usage", state, "usage_percent", "%", ""),
			sensor(id+"free", name+"free", state, "free_bytes", "B", "data_size"),
		}
	}
	return nil
}

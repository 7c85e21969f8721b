package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The Home Assistant integration's pydantic models, transcribed from
// docs/ha-models.md (mirror HEAD 9fcfd9c): every model towerd
// serves, every field, the JSON type the model accepts. A payload field of
// a type the model refuses rejects the whole payload in Home Assistant, so
// the test below fails on it.
//
// Notation (docs/ha-models.md "Types"): str, int, float, bool,
// cint/cfloat (coerced), list[X], dict[str,X], a model name, any.
//   - "?"  optional: null or a missing key is accepted.
//   - "!"  must be present and not null (REQ, or a field Home Assistant
//     passes to .lower(): array/container/VM state, disk spin_state).
//   - "*"  towerd sends it (present and non-null) whenever its collector
//     runs on the fixture tree: a field Home Assistant reads, so losing it
//     is a regression even though the model would accept the absence.
//
// cint and cfloat take null without "?" (their coercers turn garbage into
// null).
type haModel map[string]string

var haModels = map[string]haModel{
	// ### SystemInfo — /system (models.py:124)
	"SystemInfo": {
		"hostname": "str?*", "version": "str?*", "agent_version": "str?*", "uptime_seconds": "cint*",
		"cpu_usage_percent": "cfloat*", "cpu_mhz": "cfloat*", "cpu_temp_celsius": "cfloat*", "cpu_model": "str?*",
		"cpu_cores": "cint*", "cpu_threads": "cint*", "cpu_per_core_usage": "dict[str,float]?*",
		"ram_usage_percent": "cfloat*", "ram_total_bytes": "cint*", "ram_used_bytes": "cint*", "ram_free_bytes": "cint*",
		"ram_buffers_bytes": "cint*", "ram_cached_bytes": "cint*", "server_model": "str?*",
		"motherboard_model": "str?", "openssl_version": "str?", "parity_check_speed": "str?",
		"bios_version": "str?*", "bios_date": "str?*", "kernel_version": "str?*", "hvm_enabled": "bool?*", "iommu_enabled": "bool?*",
		"cpu_power_watts": "cfloat", "dram_power_watts": "cfloat", "fans": "list[FanInfo]?*",
		"motherboard_temp_celsius": "cfloat", "cpu_power_state": "CpuPowerState?", "temperatures": "list[TemperatureInfo]?*",
		"swap_usage_percent": "cfloat*", "swap_total_bytes": "cint*", "swap_used_bytes": "cint*", "swap_free_bytes": "cint*",
		"swappiness": "cint*", "ram_used_mb": "cfloat", "ram_total_mb": "cfloat", "timestamp": "str?*",
	},
	"FanInfo":         {"name": "str?", "rpm": "int?"},
	"TemperatureInfo": {"name": "str?", "value_celsius": "cfloat", "sensor_type": "str?", "source": "str?"},
	"CpuPowerState": {"governor": "str?", "available_governors": "list[str]?", "driver": "str?",
		"min_freq_mhz": "cfloat", "max_freq_mhz": "cfloat", "current_freq_mhz": "cfloat"},

	// ### ArrayStatus — /array (models.py:302). total_disks is not in the
	// model: events.py recognises an array event by state + total_disks.
	"ArrayStatus": {
		"state": "str!", "num_disks": "cint*", "num_data_disks": "cint*", "num_parity_disks": "cint*",
		"total_bytes": "cint*", "used_bytes": "cint*", "free_bytes": "cint*", "used_percent": "cfloat*",
		"parity_valid": "bool?*", "parity_check_status": "str?*", "parity_check_progress": "cfloat*", "sync_percent": "cfloat*",
		"sync_action": "str?*", "sync_errors": "cint*",
		// The fixture's check runs, so both are sent (display strings).
		"sync_speed": "str?*", "sync_eta": "str?*",
		"timestamp": "str?*", "total_disks": "int?*",
	},

	// ### DiskInfo — /disks (models.py:471)
	"DiskInfo": {
		"id": "str?*", "device": "str?*", "name": "str?*", "serial_number": "str?*", "model": "str?*", "role": "str?*",
		"size_bytes": "cint*", "used_bytes": "cint*", "free_bytes": "cint*", "usage_percent": "cfloat*",
		"mount_point": "str?*", "filesystem": "str?*", "temperature_celsius": "cfloat*",
		"temp_warning": "cint", "temp_warning_celsius": "cint*", "temp_critical": "cint", "temp_critical_celsius": "cint*",
		"spin_state": "str!", "spindown_delay": "cint*", "power_cycle_count": "cint*", "status": "str?*",
		"smart_status": "str?*", "smart_errors": "cint*", "smart_attributes": "dict[str,SMARTAttribute]?",
		"power_on_hours": "cint*", "read_bytes": "cint*", "write_bytes": "cint*", "read_ops": "cint*", "write_ops": "cint*",
		"io_utilization_percent": "cfloat*", "timestamp": "str?*", "total_bytes": "any",
	},
	"SMARTAttribute": {"id": "int?", "value": "int?", "worst": "int?", "threshold": "int?",
		"name": "str?", "when_failed": "str?", "raw_value": "str?"},

	// ### ContainerInfo — /docker (models.py:776)
	"ContainerInfo": {
		"id": "str?*", "name": "str?*", "image": "str?*", "state": "str!", "status": "str?*",
		"version": "str?", "uptime": "str?", "network_mode": "str?", "ip_address": "str?", "mac_address": "str?",
		"restart_policy": "str?", "update_status": "str?", "update_checked": "str?",
		"cpu_percent": "cfloat*", "memory_usage_bytes": "cint*", "memory_limit_bytes": "cint*", "memory_display": "str?*",
		"network_rx_bytes": "cint*", "network_tx_bytes": "cint*",
		"network_rx_bytes_per_sec": "cfloat*", "network_tx_bytes_per_sec": "cfloat*",
		"ports": "list[PortMapping]?*", "port_mappings": "list[str]?", "volume_mappings": "list[VolumeMapping]?",
		"autostart": "bool?*", "restart_count": "cint*", "update_available": "bool?", "timestamp": "str?*",
	},
	"PortMapping":   {"public_port": "int?", "private_port": "int?", "type": "str?"},
	"VolumeMapping": {"host_path": "str?", "container_path": "str?", "mode": "str?"},

	// ### VMInfo — /vm (models.py:842)
	"VMInfo": {
		"id": "str?*", "name": "str?*", "state": "str!", "cpu_count": "cint*",
		"guest_cpu_percent": "cfloat*", "host_cpu_percent": "cfloat*",
		"memory_allocated_bytes": "cint*", "memory_used_bytes": "cint*", "disk_size_bytes": "cint*",
		"memory_display": "str?*", "disk_path": "str?*", "disk_read_bytes": "cint*", "disk_write_bytes": "cint*",
		"network_rx_bytes": "cint", "network_tx_bytes": "cint", "autostart": "bool?*", "persistent": "bool?*",
		"timestamp": "str?*",
	},

	// ### UPSInfo — /ups (models.py:1120). No UPS runs here: the
	// payload is {"connected":false,...} without status (a non-null
	// status makes HA create UPS sensors).
	"UPSInfo": {
		"model": "str?", "status": "str?", "battery_charge_percent": "cfloat", "load_percent": "cfloat",
		"power_watts": "cfloat", "runtime_left_seconds": "cint", "battery_runtime_seconds": "cint",
		"runtime_seconds": "cint", "nominal_power_watts": "cfloat", "connected": "bool?*", "timestamp": "str?",
	},

	// ### GPUInfo — /gpu (models.py:1060)
	"GPUInfo": {
		"index": "cint*", "name": "str?*", "driver_version": "str?*", "utilization_gpu_percent": "cfloat*",
		"power_draw_watts": "cfloat*", "temperature_celsius": "cfloat*", "cpu_temperature_celsius": "cfloat*",
		"available": "bool?*", "vendor": "str?*", "pci_id": "str?", "uuid": "str?",
		"utilization_memory_percent": "cfloat*", "memory_total_bytes": "cint*", "memory_used_bytes": "cint*",
		"fan_speed_percent": "cfloat", "fan_rpm": "cint", "fan_max_rpm": "cint", "timestamp": "str?*",
	},

	// ### NetworkInterface — /network (models.py:954)
	"NetworkInterface": {
		"name": "str?*", "state": "str?*", "mac_address": "str?*", "ip_address": "str?*", "speed_mbps": "int?*",
		"bytes_received": "int?*", "bytes_sent": "int?*", "packets_received": "int?*", "packets_sent": "int?*",
		"errors_received": "int?*", "errors_sent": "int?*", "mtu": "int?", "phyad": "int?",
		"netmask": "str?", "broadcast": "str?", "duplex": "str?", "auto_negotiation": "str?", "port": "str?",
		"transceiver": "str?", "mdix": "str?", "message_level": "str?", "wake_on": "str?",
		"supported_pause_frame": "str?", "advertised_pause_frame": "str?",
		"link_detected": "bool?", "supports_auto_negotiation": "bool?", "advertised_auto_negotiation": "bool?",
		"supported_ports": "list[str]?", "supported_link_modes": "list[str]?", "supported_fec_modes": "list[str]?",
		"supports_wake_on": "list[str]?", "advertised_link_modes": "list[str]?", "advertised_fec_modes": "list[str]?",
		"timestamp": "str?*",
	},

	// ### ShareInfo — /shares (models.py:885)
	"ShareInfo": {
		"name": "str?*", "total_bytes": "cint*", "used_bytes": "cint*", "free_bytes": "cint*", "usage_percent": "cfloat*",
		"use_cache": "str?*", "cache_pool": "str?*", "mover_action": "str?", "path": "str?*", "comment": "str?*",
		"storage": "str?*", "security": "str?*", "cache_pool2": "str?", "smb_export": "bool?*", "nfs_export": "bool?*",
		"timestamp": "str?*",
	},

	// ### CollectorStatus — /collectors/status (models.py:1892, 1857)
	"CollectorStatus": {"collectors": "list[CollectorDetails]?*", "total": "int?*", "enabled_count": "int?*",
		"disabled_count": "int?*", "timestamp": "str?*"},
	"CollectorDetails": {"name": "str?*", "enabled": "bool?*", "interval_seconds": "int?", "error_count": "int?",
		"last_run": "str?", "status": "str?", "required": "bool?"},

	// ### DockerSettings / VMSettings (models.py:1575/1586)
	"DockerSettings": {"enabled": "bool?*", "image_path": "str?", "auto_start": "bool?"},
	"VMSettings":     {"enabled": "bool?*", "default_path": "str?"},
	// ### DockerPortConflict (models.py:2317)
	"DockerPortConflict": {"container_name": "str?", "conflicting_container": "str?", "host_ip": "str?",
		"protocol": "str?", "host_port": "cint", "container_port": "cint"},
	// The models of the paths in docs/rest-extended.md (docs/ha-models.md
	// "Fields"). Alias keys (ha-models.md "Types") are
	// listed as fields of the same type: pydantic validates the first one
	// present, and towerd must never send a refused value under any of them.

	// ### NotificationsResponse — /notifications (models.py:1306, 1253,
	// 1276, 1265)
	"NotificationsResponse": {"overview": "NotificationOverview?*", "notifications": "list[Notification]?*",
		"timestamp": "str?", "total_count": "any"},
	"Notification":         {"id": "str?*", "subject": "str?*", "description": "str?", "importance": "str?*", "timestamp": "str?*"},
	"NotificationOverview": {"unread": "NotificationCounts?*", "archive": "NotificationCounts?*", "timestamp": "str?"},
	"NotificationCounts":   {"info": "int?*", "warning": "int?*", "alert": "int?*", "total": "int?*"},

	// ### UserScript — /user-scripts (models.py:1669)
	"UserScript": {"name": "str?*", "description": "str?*", "script_path": "str?", "schedule": "str?",
		"running": "bool?", "timestamp": "str?"},

	// ### ZFS — /zfs/pools, /zfs/datasets, /zfs/snapshots, /zfs/arc
	// (models.py:1763-1845); errors is an extra read with getattr.
	"ZFSPool": {"name": "str?*", "state": "str?", "health": "str?*", "size_bytes": "cint*", "free_bytes": "cint*",
		"used_bytes": "cint*", "corrupted_files": "cint", "is_boot_pool": "bool?", "errors": "any", "timestamp": "str?"},
	"ZFSDataset": {"name": "str?*", "pool": "str?*", "mountpoint": "str?", "compression": "str?",
		"used_bytes": "int?*", "available_bytes": "int?*", "timestamp": "str?"},
	"ZFSSnapshot": {"name": "str?*", "dataset": "str?*", "creation": "str?*", "used_bytes": "int?*",
		"referenced_bytes": "int?*", "timestamp": "str?"},
	"ZFSArcStats": {"hit_ratio_percent": "float?*", "size_bytes": "int?*", "target_size_bytes": "int?*",
		"hits": "int?*", "misses": "int?*", "configured_max_bytes": "int?", "timestamp": "str?"},

	// ### FanControlStatus — /fans (models.py:2838-2940)
	"FanControlStatus": {"fans": "list[FanDevice]?*", "summary": "FanSummary?*", "profiles": "list[FanProfile]?",
		"config": "FanControlConfig?", "timestamp": "str?"},
	"FanDevice": {"id": "str?*", "name": "str?*", "rpm": "cint*", "pwm_value": "cint", "hwmon_index": "cint*",
		"pwm_percent": "cfloat", "mode": "str?*", "controllable": "bool?*", "hwmon_path": "str?"},
	"FanSummary":       {"failed_fans": "list[str]?*", "total_fans": "cint", "controllable_fans": "cint"},
	"FanProfile":       {"name": "str?", "description": "str?", "curve_points": "list[FanCurvePoint]?", "built_in": "bool?"},
	"FanCurvePoint":    {"temp_celsius": "cfloat", "speed_percent": "cfloat"},
	"FanControlConfig": {"enabled": "bool?", "control_enabled": "bool?", "control_method": "str?", "poll_interval_seconds": "cint", "safety": "FanSafety?"},
	"FanSafety":        {"min_speed_percent": "cfloat", "critical_temp_celsius": "cfloat", "failure_rpm_threshold": "cint"},

	// ### DiskSettings — /settings/disk-thresholds (models.py:1596)
	"DiskSettings": {"hdd_temp_warning_celsius": "cint*", "hdd_temp_critical_celsius": "cint*",
		"ssd_temp_warning_celsius": "cint*", "ssd_temp_critical_celsius": "cint*",
		"spindown_delay_minutes": "cint", "shutdown_timeout_seconds": "cint", "warning_utilization_percent": "cint",
		"critical_utilization_percent": "cint", "start_array": "bool?", "spinup_groups": "bool?",
		"nvme_power_monitoring": "bool?", "default_filesystem": "str?", "timestamp": "str?"},

	// ### MoverSettings — /mover, else /settings/mover (models.py:2156)
	"MoverSettings": {"active": "bool?*", "schedule": "str?*", "logging": "bool?*", "cache_floor_kb": "int?",
		"last_run_start": "str?", "last_run_finish": "str?", "last_run_duration_seconds": "cint",
		"last_run_files_moved": "cint", "last_run_bytes_moved": "cint", "current_throughput_mbs": "cfloat", "timestamp": "str?"},

	// ### ParitySchedule — /array/parity-check/schedule (models.py:1932)
	"ParitySchedule": {
		"mode": "str?*", "schedule_mode": "str?", "parity_mode": "str?",
		"day": "cint*", "day_of_week": "cint", "weekday": "cint", "schedule_day": "cint", "dayOfWeek": "cint",
		"hour": "cint*", "schedule_hour": "cint", "start_hour": "cint",
		"minute": "cint*", "schedule_minute": "cint", "start_minute": "cint",
		"day_of_month": "cint*", "month": "cint*", "schedule_month": "cint", "frequency": "cint",
		"duration_hours": "cint", "pause_hour": "cint", "cumulative": "bool?",
		"correcting": "bool?*", "write_corrections": "bool?", "auto_correct": "bool?",
		"enabled": "bool?*", "schedule_enabled": "bool?", "scheduled": "bool?",
		"cron": "str?", "cron_expression": "str?", "custom_cron": "str?",
		"check_cron": "str?*", "schedule_cron": "str?", "timestamp": "str?",
	},

	// ### ParityHistory — /array/parity-check/history (models.py:1694-1745)
	"ParityHistory": {"records": "list[ParityCheckRecord]?*", "timestamp": "str?"},
	"ParityCheckRecord": {"date": "str?*", "duration_seconds": "int?*", "status": "str?*", "errors": "int?*",
		"action": "str?", "speed_mbps": "float?", "size_bytes": "int?"},

	// ### FlashDriveInfo — /system/flash (models.py:2223); total_bytes and
	// product are extras read with getattr.
	"FlashDriveInfo": {"size_bytes": "cint*", "used_bytes": "cint*", "free_bytes": "cint*", "usage_percent": "cfloat*",
		"guid": "str?*", "vendor": "str?*", "model": "str?*", "smart_available": "bool?", "device": "str?",
		"timestamp": "str?", "total_bytes": "any", "product": "any"},

	// ### PluginList — /plugins (models.py:2345)
	"PluginList": {"plugins": "list[PluginInfo]?*", "total_plugins": "int?", "plugins_with_updates": "int?",
		"timestamp": "str?"},
	"PluginInfo": {"name": "str?*", "update_available": "bool?*", "version": "str?"},

	// ### UpdateStatus — /os/update, else /updates (models.py:2198);
	// plugins_with_updates is an extra (a list or an int).
	"UpdateStatus": {"current_version": "str?*", "latest_version": "str?*", "os_update_available": "bool?*",
		"update_available": "bool?", "plugin_updates_count": "int?", "status": "str?", "total_plugins": "int?",
		"plugins_with_updates": "any", "timestamp": "str?"},

	// ### RegistrationInfo — /registration (models.py:1206)
	"RegistrationInfo": {"type": "str?*", "state": "str?*", "key_file": "str?", "guid": "str?"},

	// ### NetworkServicesStatus — /settings/network-services
	// (models.py:2361-2408)
	"NetworkServicesStatus": {"smb": "NetworkServiceInfo?*", "nfs": "NetworkServiceInfo?*", "afp": "NetworkServiceInfo?",
		"ftp": "NetworkServiceInfo?*", "ssh": "NetworkServiceInfo?*", "telnet": "NetworkServiceInfo?*",
		"avahi": "NetworkServiceInfo?*", "netbios": "NetworkServiceInfo?*", "wsd": "NetworkServiceInfo?*",
		"wireguard": "NetworkServiceInfo?*", "upnp": "NetworkServiceInfo?*", "ntp": "NetworkServiceInfo?*",
		"syslog": "NetworkServiceInfo?*", "services_enabled": "int?", "services_running": "int?"},
	"NetworkServiceInfo": {"name": "str?*", "running": "bool?*", "enabled": "bool?*", "port": "int?*", "description": "str?"},

	// ### UnassignedInfo — /unassigned (models.py:1340-1436). RemoteShare's
	// before-validator derives name, mounted, protocol and server from
	// source, status, type and smb_server.
	"UnassignedInfo":   {"devices": "list[UnassignedDevice]?*", "remote_shares": "list[RemoteShare]?*", "timestamp": "str?"},
	"UnassignedDevice": {"name": "str?", "device": "str?*", "size_bytes": "int?*", "mounted": "bool?*", "filesystem": "str?"},
	"RemoteShare": {"source": "str?*", "type": "str?*", "status": "str?*", "mount_point": "str?*",
		"usage_percent": "float?", "size_bytes": "int?", "used_bytes": "int?", "free_bytes": "int?",
		"smb_server": "str?", "auto_mount": "bool?", "read_only": "bool?", "smb_share": "str?",
		"name": "str?", "mounted": "bool?", "protocol": "str?", "server": "str?"},

	// ### DiagnosticsSelfTestResponse — /diagnostics/self-test
	// (models.py:2284-2315)
	"DiagnosticsSelfTestResponse": {"overall_state": "str?*", "subsystems": "list[SubsystemSelfTestStatus]?*",
		"unraid_version": "str?", "timestamp": "str?"},
	"SubsystemSelfTestStatus": {"subsystem": "str?*", "state": "str?*", "source_status": "str?", "last_checked": "str?"},

	// ### ContainerUpdatesResult — /docker/updates (models.py:2439-2486)
	"ContainerUpdatesResult": {"updates_available": "int?", "total_count": "int?",
		"containers": "list[ContainerUpdateInfo]?", "timestamp": "str?"},
	"ContainerUpdateInfo": {"container_id": "str?", "container_name": "str?", "image": "str?", "current_digest": "str?",
		"latest_digest": "str?", "update_available": "bool?", "timestamp": "str?"},

	// /health (setup) and ## Action responses (models.py:1184)
	"HealthStatus":   {"status": "str!"},
	"ActionResponse": {"success": "bool!", "message": "str?", "timestamp": "str?"},
}

// haType splits a field type into its base, whether null/missing is
// allowed, and whether towerd must send it.
func haType(t string) (base string, optional, send bool) {
	send = strings.HasSuffix(t, "*")
	t = strings.TrimSuffix(t, "*")
	switch {
	case strings.HasSuffix(t, "!"):
		return strings.TrimSuffix(t, "!"), false, send
	case strings.HasSuffix(t, "?"):
		return strings.TrimSuffix(t, "?"), true, send
	}
	return t, t == "cint" || t == "cfloat" || t == "any", send // coerced: null accepted
}

// haCheck returns why Home Assistant's model would refuse obj, one line
// per field; sendChecks adds the fields towerd must send.
func haCheck(where, model string, obj map[string]any, sendChecks bool) []string {
	m, ok := haModels[model]
	if !ok {
		return []string{where + ": no model " + model}
	}
	var bad []string
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		base, optional, send := haType(m[k])
		v, present := obj[k]
		switch {
		case !present || v == nil:
			if !optional {
				bad = append(bad, fmt.Sprintf("%s: %q is required by %s and must not be null (got %v)", where, k, model, v))
			} else if send && sendChecks {
				bad = append(bad, fmt.Sprintf("%s: towerd no longer sends %q (%s reads it)", where, k, model))
			}
		default:
			bad = append(bad, haValue(fmt.Sprintf("%s.%s", where, k), base, v, sendChecks)...)
		}
	}
	return bad
}

// haValue checks one non-null value against a base type, following
// pydantic's lax mode as docs/ha-models.md "Types" describes it.
func haValue(where, base string, v any, sendChecks bool) []string {
	fail := func() []string {
		b, _ := json.Marshal(v)
		return []string{fmt.Sprintf("%s = %s: Home Assistant's %s refuses it", where, b, base)}
	}
	switch {
	case base == "any":
		return nil
	case base == "str":
		if _, ok := v.(string); !ok {
			return fail()
		}
	case base == "int":
		if !laxInt(v) {
			return fail()
		}
	case base == "float":
		if !laxFloat(v) {
			return fail()
		}
	case base == "cint", base == "cfloat":
		switch v.(type) {
		case []any, map[string]any:
			return fail()
		case bool:
			if base == "cfloat" {
				return fail()
			}
		}
	case base == "bool":
		if !laxBool(v) {
			return fail()
		}
	case strings.HasPrefix(base, "list["):
		items, ok := v.([]any)
		if !ok {
			return fail()
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(base, "list["), "]")
		var bad []string
		for i, it := range items {
			bad = append(bad, haItem(fmt.Sprintf("%s[%d]", where, i), inner, it, sendChecks)...)
		}
		return bad
	case strings.HasPrefix(base, "dict[str,"):
		m, ok := v.(map[string]any)
		if !ok {
			return fail()
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(base, "dict[str,"), "]")
		var bad []string
		for k, it := range m {
			bad = append(bad, haItem(fmt.Sprintf("%s[%q]", where, k), inner, it, sendChecks)...)
		}
		return bad
	default: // a nested model
		m, ok := v.(map[string]any)
		if !ok {
			return fail()
		}
		return haCheck(where, base, m, sendChecks)
	}
	return nil
}

// haItem checks a list or dict element: a model or a plain type; null
// elements are refused (the element types are not optional).
func haItem(where, typ string, v any, sendChecks bool) []string {
	if v == nil {
		return []string{where + ": null element"}
	}
	return haValue(where, typ, v, sendChecks)
}

func laxInt(v any) bool {
	switch x := v.(type) {
	case bool:
		return true
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		return err == nil && f == math.Trunc(f)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return err == nil && f == math.Trunc(f)
	}
	return false
}

func laxFloat(v any) bool {
	switch x := v.(type) {
	case bool, json.Number:
		return true
	case string:
		_, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return err == nil
	}
	return false
}

func laxBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return true
	case json.Number:
		return x.String() == "0" || x.String() == "1" || x.String() == "0.0" || x.String() == "1.0"
	case string:
		switch strings.ToLower(x) {
		case "true", "false", "yes", "no", "on", "off", "1", "0", "t", "f", "y", "n":
			return true
		}
	}
	return false
}

// The checker refuses what pydantic refuses: the payload towerd sent
// before (sync_speed and sync_eta as numbers) fails, as do a null state,
// a bool where a cfloat is due, 1.5 for an int, an object for a list, and
// the reference agent's list of corrupted files.
func TestHAModelChecker(t *testing.T) {
	for _, tc := range []struct {
		model, payload string
		bad            int
	}{
		{"ArrayStatus", `{"state":"STARTED","sync_speed":189952000,"sync_eta":25274}`, 2},
		{"ArrayStatus", `{"state":"STARTED","sync_speed":0,"sync_eta":null}`, 1},
		{"ArrayStatus", `{"state":"STARTED","sync_speed":"190.0 MB/s","sync_eta":null,"num_disks":"6","used_percent":"-"}`, 0},
		{"ArrayStatus", `{"state":null}`, 1},
		{"ArrayStatus", `{}`, 1},
		{"DiskInfo", `{"spin_state":"active","temp_warning_celsius":45.5,"smart_attributes":{"rotation_rate":{"raw_value":0}}}`, 1},
		{"SystemInfo", `{"fans":[{"name":"CPU","rpm":1.5}],"cpu_mhz":true,"hvm_enabled":"enable"}`, 3},
		{"SystemInfo", `{"fans":{"name":"CPU"},"cpu_per_core_usage":{"cpu0":"x"}}`, 2},
		{"ShareInfo", `{"smb_export":"yes","nfs_export":0,"security":"public"}`, 0},
		{"ActionResponse", `{"message":"All notifications archived successfully"}`, 1},
		{"NetworkInterface", `{"speed_mbps":1000.0,"bytes_received":"12"}`, 0},
		// The extended models: the reference agent's corrupted_files list
		// (docs/ha-models.md "Traps worth remembering") and other values the models refuse or coerce.
		{"ZFSPool", `{"name":"tank","corrupted_files":["/mnt/tank/a.jpg"]}`, 1},
		{"ZFSPool", `{"name":"tank","corrupted_files":2,"used_bytes":"-"}`, 0},
		{"NotificationsResponse", `{"overview":{"unread":{"info":1.5}},"notifications":[{"id":7,"timestamp":1763899200}]}`, 3},
		{"NotificationsResponse", `{"notifications":{"id":"x"}}`, 1},
		{"ParityHistory", `{"records":[{"date":"2025-06-01T03:12:44Z","duration_seconds":"14h","errors":"2","speed_mbps":"fast"}]}`, 2},
		{"UnassignedInfo", `{"devices":[{"device":"sdh","size_bytes":"2 TB","mounted":"mounted"}],"remote_shares":[{"source":"//NAS/b","usage_percent":""}]}`, 3},
		{"FanControlStatus", `{"fans":[{"id":"hwmon2_fan1","rpm":"-","pwm_percent":40}],"summary":{"failed_fans":"hwmon2_fan3"}}`, 1},
		{"NetworkServicesStatus", `{"smb":{"name":"SMB","running":"up","port":"445/tcp"}}`, 2},
		{"ParitySchedule", `{"mode":"monthly","enabled":"enable","day_of_week":"sun","check_cron":30}`, 2},
		{"UpdateStatus", `{"os_update_available":"yes","plugins_with_updates":["unassigned.devices"]}`, 0},
		{"DiagnosticsSelfTestResponse", `{"subsystems":[{"subsystem":"array","state":null}],"overall_state":0}`, 1},
	} {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(tc.payload))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if got := haCheck(tc.model, tc.model, m, false); len(got) != tc.bad {
			t.Errorf("%s %s: %d problems %q, want %d", tc.model, tc.payload, len(got), got, tc.bad)
		}
	}
}

// Package schema holds the Go types of the nine built-in payloads, with the
// JSON names of the wire contract (docs/websocket.md at the repository's
// root) plus the extra fields existing clients read (docs/rest-api.md). The core
// never needs these types: it forwards a plugin's JSON as is. They exist so
// that plugins and tests agree on one spelling of every field.
package schema

import "time"

// Topics of the nine built-in collectors.
const (
	TopicSystem     = "system_update"
	TopicArray      = "array_status_update"
	TopicDisks      = "disk_list_update"
	TopicContainers = "container_list_update"
	TopicVMs        = "vm_list_update"
	TopicUPS        = "ups_status_update"
	TopicGPU        = "gpu_update"
	TopicNetwork    = "network_list_update"
	TopicShares     = "share_list_update"
)

// System is the payload of system_update.
type System struct {
	Hostname               string             `json:"hostname"`
	Version                string             `json:"version"`
	AgentVersion           string             `json:"agent_version"`
	UptimeSeconds          int64              `json:"uptime_seconds"`
	CPUUsagePercent        float64            `json:"cpu_usage_percent"`
	CPUModel               string             `json:"cpu_model"`
	CPUCores               int                `json:"cpu_cores"`
	CPUThreads             int                `json:"cpu_threads"`
	CPUMHz                 float64            `json:"cpu_mhz"`
	CPUPerCoreUsage        map[string]float64 `json:"cpu_per_core_usage"`
	CPUTempCelsius         float64            `json:"cpu_temp_celsius"`
	RAMUsagePercent        float64            `json:"ram_usage_percent"`
	RAMTotalBytes          uint64             `json:"ram_total_bytes"`
	RAMUsedBytes           uint64             `json:"ram_used_bytes"`
	RAMFreeBytes           uint64             `json:"ram_free_bytes"`
	RAMBuffersBytes        uint64             `json:"ram_buffers_bytes"`
	RAMCachedBytes         uint64             `json:"ram_cached_bytes"`
	SwapUsagePercent       float64            `json:"swap_usage_percent"`
	SwapTotalBytes         uint64             `json:"swap_total_bytes"`
	SwapUsedBytes          uint64             `json:"swap_used_bytes"`
	SwapFreeBytes          uint64             `json:"swap_free_bytes"`
	ServerModel            string             `json:"server_model"`
	BIOSVersion            string             `json:"bios_version"`
	BIOSDate               string             `json:"bios_date"`
	MotherboardTempCelsius float64            `json:"motherboard_temp_celsius,omitempty"` // left out when unknown: a 0 makes HA create a sensor stuck at 0
	Fans                   []Fan              `json:"fans"`
	Temperatures           []Temperature      `json:"temperatures"`
	KernelVersion          string             `json:"kernel_version"`
	HVMEnabled             bool               `json:"hvm_enabled"`
	IOMMUEnabled           bool               `json:"iommu_enabled"`
	// Swappiness is vm.swappiness; left out when unreadable.
	Swappiness *int `json:"swappiness,omitempty"`
	// CPUPowerWatts and DRAMPowerWatts come from RAPL energy counters
	// (powercap); left out where the host has none and on the first
	// collect (power is a difference between two readings).
	CPUPowerWatts  *float64       `json:"cpu_power_watts,omitempty"`
	DRAMPowerWatts *float64       `json:"dram_power_watts,omitempty"`
	CPUPowerState  *CPUPowerState `json:"cpu_power_state,omitempty"`
	Timestamp      time.Time      `json:"timestamp"`
}

// CPUPowerState is the cpufreq policy of the first CPU.
type CPUPowerState struct {
	Governor           string   `json:"governor"`
	AvailableGovernors []string `json:"available_governors"`
	Driver             string   `json:"driver"`
	MinFreqMHz         float64  `json:"min_freq_mhz"`
	MaxFreqMHz         float64  `json:"max_freq_mhz"`
	CurrentFreqMHz     float64  `json:"current_freq_mhz"`
}

// Fan is one fan sensor.
type Fan struct {
	Name string `json:"name"`
	RPM  int    `json:"rpm"`
}

// Temperature is one temperature sensor.
type Temperature struct {
	Name         string  `json:"name"`
	ValueCelsius float64 `json:"value_celsius"`
	SensorType   string  `json:"sensor_type"`
	Source       string  `json:"source"`
}

// Array is the payload of array_status_update.
type Array struct {
	State               string  `json:"state"`
	NumDisks            int     `json:"num_disks"`
	NumDataDisks        int     `json:"num_data_disks"`
	NumParityDisks      int     `json:"num_parity_disks"`
	SyncPercent         float64 `json:"sync_percent"`
	ParityValid         bool    `json:"parity_valid"`
	ParityCheckStatus   string  `json:"parity_check_status"`
	ParityCheckRunning  bool    `json:"parity_check_running"`
	ParityCheckProgress float64 `json:"parity_check_progress"`
	TotalBytes          uint64  `json:"total_bytes"`
	UsedBytes           uint64  `json:"used_bytes"`
	FreeBytes           uint64  `json:"free_bytes"`
	UsedPercent         float64 `json:"used_percent"`
	SyncAction          string  `json:"sync_action"`
	SyncErrors          int64   `json:"sync_errors"`
	// SyncSpeed and SyncETA are display strings, as the webGUI shows them
	// ("152.3 MB/s", "1h 23m"), or null when no operation runs: the Home
	// Assistant model declares both str? and rejects the whole payload for
	// a number (docs/ha-models.md).
	SyncSpeed *string `json:"sync_speed"`
	SyncETA   *string `json:"sync_eta"`
	// The same as numbers, for dashboards and metrics.
	SyncSpeedBytesPerSec uint64 `json:"sync_speed_bytes_per_sec"`
	SyncETASeconds       int64  `json:"sync_eta_seconds"`
	// TotalDisks repeats NumDisks: clients identify an array event by
	// state + total_disks.
	TotalDisks int       `json:"total_disks"`
	Timestamp  time.Time `json:"timestamp"`
}

// Disk is one item of disk_list_update.
type Disk struct {
	ID                  string  `json:"id"`
	Device              string  `json:"device"`
	Name                string  `json:"name"`
	Role                string  `json:"role"`
	Status              string  `json:"status"`
	Model               string  `json:"model"`
	SerialNumber        string  `json:"serial_number"`
	SizeBytes           uint64  `json:"size_bytes"`
	TotalBytes          uint64  `json:"total_bytes,omitempty"` // the docker_vdisk and log pseudo-disks only
	UsedBytes           uint64  `json:"used_bytes"`
	FreeBytes           uint64  `json:"free_bytes"`
	UsagePercent        float64 `json:"usage_percent"`
	TemperatureCelsius  float64 `json:"temperature_celsius"`
	TempWarningCelsius  float64 `json:"temp_warning_celsius"`
	TempCriticalCelsius float64 `json:"temp_critical_celsius"`
	SpinState           string  `json:"spin_state"`
	SMARTStatus         string  `json:"smart_status"`
	SMARTErrors         int     `json:"smart_errors"`
	// SMARTAttributes holds rotation_rate ("0" for an SSD) when smartctl
	// reports it; Home Assistant tells SSDs from it.
	SMARTAttributes      map[string]SMARTAttribute `json:"smart_attributes,omitempty"`
	PowerOnHours         int64                     `json:"power_on_hours"`
	PowerCycleCount      int64                     `json:"power_cycle_count"`
	SpindownDelay        int                       `json:"spindown_delay"`
	Filesystem           string                    `json:"filesystem"`
	MountPoint           string                    `json:"mount_point"`
	ReadBytes            uint64                    `json:"read_bytes"`
	WriteBytes           uint64                    `json:"write_bytes"`
	ReadOps              uint64                    `json:"read_ops"`
	WriteOps             uint64                    `json:"write_ops"`
	IOUtilizationPercent float64                   `json:"io_utilization_percent"`
	Timestamp            time.Time                 `json:"timestamp"`
}

// SMARTAttribute is one SMART value; raw_value is a string, as the Home
// Assistant model wants it.
type SMARTAttribute struct {
	Name     string `json:"name"`
	RawValue string `json:"raw_value"`
}

// Container is one item of container_list_update.
type Container struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	Image            string  `json:"image"`
	State            string  `json:"state"`
	Status           string  `json:"status"`
	CPUPercent       float64 `json:"cpu_percent"`
	MemoryUsageBytes uint64  `json:"memory_usage_bytes"`
	MemoryLimitBytes uint64  `json:"memory_limit_bytes"`
	MemoryDisplay    string  `json:"memory_display"`
	NetworkRxBytes   uint64  `json:"network_rx_bytes"`
	NetworkTxBytes   uint64  `json:"network_tx_bytes"`
	// Rates between the last two collects; 0 on the first one.
	NetworkRxBytesPerSec float64   `json:"network_rx_bytes_per_sec"`
	NetworkTxBytesPerSec float64   `json:"network_tx_bytes_per_sec"`
	Ports                []Port    `json:"ports"`
	RestartCount         int       `json:"restart_count"`
	Autostart            bool      `json:"autostart"`
	Timestamp            time.Time `json:"timestamp"`
}

// Port is a published container port. The private_port/public_port/type
// names duplicate the first three for clients of the older agent.
type Port struct {
	ContainerPort int    `json:"container_port"`
	HostPort      int    `json:"host_port"`
	Protocol      string `json:"protocol"`
	PrivatePort   int    `json:"private_port"`
	PublicPort    int    `json:"public_port"`
	Type          string `json:"type"`
}

// NewPort fills both spellings of a port mapping.
func NewPort(containerPort, hostPort int, protocol string) Port {
	return Port{
		ContainerPort: containerPort, HostPort: hostPort, Protocol: protocol,
		PrivatePort: containerPort, PublicPort: hostPort, Type: protocol,
	}
}

// VM is one item of vm_list_update.
type VM struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	State                string    `json:"state"`
	VCPUs                int       `json:"vcpus"`
	CPUCount             int       `json:"cpu_count"`
	MemoryAllocatedBytes uint64    `json:"memory_allocated_bytes"`
	MemoryUsedBytes      uint64    `json:"memory_used_bytes"`
	MemoryDisplay        string    `json:"memory_display"`
	DiskPath             string    `json:"disk_path"`
	DiskSizeBytes        uint64    `json:"disk_size_bytes"`
	DiskReadBytes        uint64    `json:"disk_read_bytes"`
	DiskWriteBytes       uint64    `json:"disk_write_bytes"`
	GuestCPUPercent      float64   `json:"guest_cpu_percent"`
	HostCPUPercent       float64   `json:"host_cpu_percent"`
	Autostart            bool      `json:"autostart"`
	Persistent           bool      `json:"persistent"`
	Timestamp            time.Time `json:"timestamp"`
}

// UPS is the payload of ups_status_update.
type UPS struct {
	Connected             bool      `json:"connected"`
	Model                 string    `json:"model"`
	Status                string    `json:"status,omitempty"` // left out without a UPS: HA creates UPS sensors for any non-null status
	BatteryChargePercent  float64   `json:"battery_charge_percent"`
	BatteryRuntimeSeconds int64     `json:"battery_runtime_seconds"`
	RuntimeLeftSeconds    int64     `json:"runtime_left_seconds"`
	LoadPercent           float64   `json:"load_percent"`
	InputVoltage          float64   `json:"input_voltage"`
	OutputVoltage         float64   `json:"output_voltage"`
	PowerWatts            float64   `json:"power_watts"`
	NominalPowerWatts     float64   `json:"nominal_power_watts"`
	Timestamp             time.Time `json:"timestamp"`
}

// GPU is one item of gpu_update.
type GPU struct {
	Available                bool      `json:"available"`
	Index                    int       `json:"index"`
	Vendor                   string    `json:"vendor"`
	Name                     string    `json:"name"`
	DriverVersion            string    `json:"driver_version"`
	TemperatureCelsius       float64   `json:"temperature_celsius"`
	CPUTemperatureCelsius    float64   `json:"cpu_temperature_celsius"`
	UtilizationGPUPercent    float64   `json:"utilization_gpu_percent"`
	UtilizationMemoryPercent float64   `json:"utilization_memory_percent"`
	MemoryTotalBytes         uint64    `json:"memory_total_bytes"`
	MemoryUsedBytes          uint64    `json:"memory_used_bytes"`
	PowerDrawWatts           float64   `json:"power_draw_watts"`
	Timestamp                time.Time `json:"timestamp"`
}

// NetworkInterface is one item of network_list_update.
type NetworkInterface struct {
	Name            string    `json:"name"`
	MACAddress      string    `json:"mac_address"`
	IPAddress       string    `json:"ip_address"`
	SpeedMbps       int       `json:"speed_mbps"`
	State           string    `json:"state"`
	BytesReceived   uint64    `json:"bytes_received"`
	BytesSent       uint64    `json:"bytes_sent"`
	PacketsReceived uint64    `json:"packets_received"`
	PacketsSent     uint64    `json:"packets_sent"`
	ErrorsReceived  uint64    `json:"errors_received"`
	ErrorsSent      uint64    `json:"errors_sent"`
	Timestamp       time.Time `json:"timestamp"`
}

// Share is one item of share_list_update.
type Share struct {
	Name         string  `json:"name"`
	Path         string  `json:"path"`
	SizeBytes    uint64  `json:"size_bytes"`
	TotalBytes   uint64  `json:"total_bytes"`
	UsedBytes    uint64  `json:"used_bytes"`
	FreeBytes    uint64  `json:"free_bytes"`
	UsagePercent float64 `json:"usage_percent"`
	Comment      string  `json:"comment"`
	UseCache     string  `json:"use_cache"`
	CachePool    string  `json:"cache_pool"`
	CachePool2   string  `json:"cache_pool2,omitempty"`
	Storage      string  `json:"storage"`
	// From the share's .cfg on the flash; left out when it is missing.
	Security  string `json:"security,omitempty"`
	SMBExport *bool  `json:"smb_export,omitempty"`
	NFSExport *bool  `json:"nfs_export,omitempty"`
	// MoverAction is where the mover moves files: "cache->array" (use
	// cache yes), "array->cache" (prefer); left out when it moves nothing.
	MoverAction string    `json:"mover_action,omitempty"`
	Timestamp   time.Time `json:"timestamp"`
}

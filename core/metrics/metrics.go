// Package metrics serves GET /metrics in the Prometheus text format. Every
// scrape is answered from what the core already holds — the bus cache of the
// latest payload per topic and the collectors' supervision state — so a
// scrape never calls a plugin. Names and labels follow node_exporter's
// habits: a towerd_ prefix, base units in the name, _total for counters,
// one label set per disk, container, VM, GPU, interface or share.
package metrics

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/schema"
)

// Source is what a scrape reads. Every function must answer from memory.
type Source struct {
	Bus        *bus.Bus
	Collectors func() []api.CollectorStatus
	WSClients  func() int
	WSDropped  func() int64
	// MQTT reports the MQTT output's counters; false (or nil) while it is off.
	MQTT func() (MQTTStats, bool)
}

// MQTTStats are the MQTT output's counters.
type MQTTStats struct {
	Connected          bool
	Published, Dropped int64
	Entities           int // Home Assistant discovery entities announced
}

// Handler returns the /metrics handler: the towerd collector plus the Go
// runtime and process collectors, on a registry of its own.

// Path is where the metrics are served.
const Path = "/metrics"

func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Collector is a prometheus.Collector over a Source. It is unchecked (it
// describes no metrics up front) because the label sets come and go with
// the hardware.
type Collector struct{ src Source }

// New returns the towerd metrics collector.
func New(src Source) *Collector { return &Collector{src: src} }

// Describe sends nothing: an unchecked collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect emits the agent's own health and every cached payload's values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	e := emitter{ch: ch}
	c.agent(&e)
	if c.src.Bus == nil {
		return
	}
	for _, ev := range c.src.Bus.Snapshot() {
		e.gauge("towerd_topic_last_update_timestamp_seconds", "Unix time the topic's latest payload was published.",
			float64(ev.Time.UnixNano())/1e9, "topic", ev.Topic)
		decode := topicDecoders[ev.Topic]
		if decode == nil {
			continue
		}
		if err := decode(&e, ev.Data); err != nil {
			e.gauge("towerd_topic_decode_errors", "1 when the topic's cached payload could not be read for metrics.", 1, "topic", ev.Topic)
		}
	}
}

func (c *Collector) agent(e *emitter) {
	if c.src.WSClients != nil {
		e.gauge("towerd_websocket_clients", "WebSocket clients connected.", float64(c.src.WSClients()))
	}
	if c.src.WSDropped != nil {
		e.counter("towerd_websocket_dropped_clients_total", "WebSocket clients dropped for not keeping up: send buffer full, or a write or read (pong) deadline passed.", float64(c.src.WSDropped()))
	}
	if c.src.MQTT != nil {
		if s, on := c.src.MQTT(); on {
			e.gauge("towerd_mqtt_connected", "1 while the MQTT output is connected to its broker.", b2f(s.Connected))
			e.counter("towerd_mqtt_published_messages_total", "MQTT messages written to the broker connection.", float64(s.Published))
			e.gauge("towerd_mqtt_discovery_entities", "Home Assistant entities announced by MQTT discovery.", float64(s.Entities))
			e.counter("towerd_mqtt_dropped_messages_total", "MQTT payloads never sent: superseded by a newer one while the broker was slow, unacknowledged in time, or pending while disconnected.", float64(s.Dropped))
		}
	}
	if c.src.Collectors == nil {
		return
	}
	for _, s := range c.src.Collectors() {
		n := s.Name
		e.gauge("towerd_collector_up", "1 when the collector's plugin is running.", b2f(s.Status == "running"), "collector", n)
		e.gauge("towerd_collector_enabled", "1 when the collector is enabled.", b2f(s.Enabled), "collector", n)
		e.gauge("towerd_collector_info", "Collector state and version; always 1.", 1,
			"collector", n, "status", s.Status, "version", s.Version, "topic", s.Topic)
		e.counter("towerd_collector_restarts_total", "Plugin restarts since towerd started.", float64(s.Restarts), "collector", n)
		e.counter("towerd_collector_errors_total", "Failed collects since towerd started.", float64(s.ErrorCount), "collector", n)
		e.gauge("towerd_collector_interval_seconds", "Collect interval.", float64(s.IntervalSeconds), "collector", n)
		e.gauge("towerd_collector_last_duration_seconds", "Duration of the last collect.", s.LastCollectMillis/1000, "collector", n)
		if !s.LastSuccess.IsZero() {
			e.gauge("towerd_collector_last_success_timestamp_seconds", "Unix time of the last successful collect.",
				float64(s.LastSuccess.UnixNano())/1e9, "collector", n)
		}
	}
}

// topicDecoders turn one cached payload into metrics.
var topicDecoders = map[string]func(*emitter, []byte) error{
	schema.TopicSystem:     system,
	schema.TopicArray:      array,
	schema.TopicDisks:      disks,
	schema.TopicContainers: containers,
	schema.TopicVMs:        vms,
	schema.TopicUPS:        ups,
	schema.TopicGPU:        gpus,
	schema.TopicNetwork:    network,
	schema.TopicShares:     shares,
}

func system(e *emitter, data []byte) error {
	var s schema.System
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	e.gauge("towerd_system_info", "Host facts; always 1.", 1, "hostname", s.Hostname, "version", s.Version,
		"kernel", s.KernelVersion, "cpu_model", s.CPUModel, "agent_version", s.AgentVersion)
	e.gauge("towerd_cpu_usage_percent", "CPU usage over all cores.", s.CPUUsagePercent)
	for core, v := range s.CPUPerCoreUsage {
		e.gauge("towerd_cpu_core_usage_percent", "CPU usage of one core.", v, "cpu", strings.TrimPrefix(core, "cpu"))
	}
	e.gauge("towerd_cpu_cores", "Physical CPU cores.", float64(s.CPUCores))
	e.gauge("towerd_cpu_threads", "CPU threads.", float64(s.CPUThreads))
	e.gauge("towerd_cpu_frequency_hertz", "CPU clock.", s.CPUMHz*1e6)
	e.gauge("towerd_cpu_temperature_celsius", "CPU temperature.", s.CPUTempCelsius)
	e.gauge("towerd_motherboard_temperature_celsius", "Motherboard temperature.", s.MotherboardTempCelsius)
	e.gauge("towerd_memory_total_bytes", "RAM size.", float64(s.RAMTotalBytes))
	e.gauge("towerd_memory_used_bytes", "RAM in use.", float64(s.RAMUsedBytes))
	e.gauge("towerd_memory_free_bytes", "RAM free.", float64(s.RAMFreeBytes))
	e.gauge("towerd_memory_buffers_bytes", "RAM in buffers.", float64(s.RAMBuffersBytes))
	e.gauge("towerd_memory_cached_bytes", "RAM in the page cache.", float64(s.RAMCachedBytes))
	e.gauge("towerd_memory_usage_percent", "RAM usage.", s.RAMUsagePercent)
	e.gauge("towerd_swap_total_bytes", "Swap size.", float64(s.SwapTotalBytes))
	e.gauge("towerd_swap_used_bytes", "Swap in use.", float64(s.SwapUsedBytes))
	e.gauge("towerd_uptime_seconds", "Host uptime.", float64(s.UptimeSeconds))
	for _, t := range s.Temperatures {
		e.gauge("towerd_temperature_celsius", "A temperature sensor.", t.ValueCelsius,
			"sensor", t.Name, "type", t.SensorType, "source", t.Source)
	}
	for _, f := range s.Fans {
		e.gauge("towerd_fan_speed_rpm", "A fan's speed.", float64(f.RPM), "fan", f.Name)
	}
	return nil
}

func array(e *emitter, data []byte) error {
	var a schema.Array
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	e.gauge("towerd_array_state", "Array state; 1 for the current state.", 1, "state", a.State)
	e.gauge("towerd_array_started", "1 when the array is started.", b2f(strings.EqualFold(a.State, "STARTED")))
	e.gauge("towerd_array_disks", "Disks in the array by kind.", float64(a.NumDisks), "kind", "all")
	e.gauge("towerd_array_disks", "Disks in the array by kind.", float64(a.NumDataDisks), "kind", "data")
	e.gauge("towerd_array_disks", "Disks in the array by kind.", float64(a.NumParityDisks), "kind", "parity")
	e.gauge("towerd_array_size_bytes", "Array capacity.", float64(a.TotalBytes))
	e.gauge("towerd_array_used_bytes", "Array space used.", float64(a.UsedBytes))
	e.gauge("towerd_array_free_bytes", "Array space free.", float64(a.FreeBytes))
	e.gauge("towerd_array_parity_valid", "1 when parity is valid.", b2f(a.ParityValid))
	e.gauge("towerd_array_parity_check_running", "1 while a parity check or sync runs.", b2f(a.ParityCheckRunning))
	e.gauge("towerd_array_parity_check_progress_percent", "Parity check progress.", a.ParityCheckProgress)
	e.gauge("towerd_array_sync_errors", "Errors found by the current or last parity check.", float64(a.SyncErrors))
	return nil
}

func disks(e *emitter, data []byte) error {
	var list []schema.Disk
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	for _, d := range list {
		l := []string{"disk", d.ID, "device", d.Device}
		e.gauge("towerd_disk_info", "Disk facts; always 1.", 1, "disk", d.ID, "device", d.Device, "name", d.Name,
			"role", d.Role, "model", d.Model, "serial", d.SerialNumber, "filesystem", d.Filesystem, "status", d.Status)
		e.gauge("towerd_disk_size_bytes", "Disk capacity.", float64(d.SizeBytes), l...)
		e.gauge("towerd_disk_used_bytes", "Disk space used.", float64(d.UsedBytes), l...)
		e.gauge("towerd_disk_free_bytes", "Disk space free.", float64(d.FreeBytes), l...)
		e.gauge("towerd_disk_usage_percent", "Disk space used.", d.UsagePercent, l...)
		e.gauge("towerd_disk_temperature_celsius", "Disk temperature (0 while spun down).", d.TemperatureCelsius, l...)
		e.gauge("towerd_disk_spun_up", "1 when the disk is spinning (active).", b2f(d.SpinState == "active"), l...)
		e.gauge("towerd_disk_smart_healthy", "SMART overall health: 1 PASSED, 0 FAILED, -1 unknown.", smartHealth(d.SMARTStatus), l...)
		e.gauge("towerd_disk_smart_errors", "SMART errors logged.", float64(d.SMARTErrors), l...)
		e.counter("towerd_disk_power_on_seconds_total", "SMART power-on time.", float64(d.PowerOnHours)*3600, l...)
		e.counter("towerd_disk_power_cycles_total", "SMART power cycles.", float64(d.PowerCycleCount), l...)
		e.counter("towerd_disk_read_bytes_total", "Bytes read.", float64(d.ReadBytes), l...)
		e.counter("towerd_disk_written_bytes_total", "Bytes written.", float64(d.WriteBytes), l...)
		e.counter("towerd_disk_reads_completed_total", "Reads completed.", float64(d.ReadOps), l...)
		e.counter("towerd_disk_writes_completed_total", "Writes completed.", float64(d.WriteOps), l...)
		e.gauge("towerd_disk_io_utilization_percent", "Time the disk was busy.", d.IOUtilizationPercent, l...)
	}
	return nil
}

func smartHealth(s string) float64 {
	switch strings.ToUpper(s) {
	case "PASSED":
		return 1
	case "FAILED":
		return 0
	}
	return -1
}

func containers(e *emitter, data []byte) error {
	var list []schema.Container
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	for _, c := range list {
		l := []string{"name", c.Name}
		e.gauge("towerd_container_info", "Container facts; always 1.", 1, "name", c.Name, "id", c.ID, "image", c.Image, "state", c.State)
		e.gauge("towerd_container_running", "1 when the container runs.", b2f(c.State == "running"), l...)
		e.gauge("towerd_container_cpu_percent", "Container CPU usage.", c.CPUPercent, l...)
		e.gauge("towerd_container_memory_usage_bytes", "Container memory in use.", float64(c.MemoryUsageBytes), l...)
		e.gauge("towerd_container_memory_limit_bytes", "Container memory limit.", float64(c.MemoryLimitBytes), l...)
		e.counter("towerd_container_network_receive_bytes_total", "Bytes received by the container.", float64(c.NetworkRxBytes), l...)
		e.counter("towerd_container_network_transmit_bytes_total", "Bytes sent by the container.", float64(c.NetworkTxBytes), l...)
		e.counter("towerd_container_restarts_total", "Container restarts.", float64(c.RestartCount), l...)
	}
	return nil
}

func vms(e *emitter, data []byte) error {
	var list []schema.VM
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	for _, v := range list {
		l := []string{"name", v.Name}
		e.gauge("towerd_vm_info", "VM facts; always 1.", 1, "name", v.Name, "id", v.ID, "state", v.State)
		e.gauge("towerd_vm_running", "1 when the VM runs.", b2f(v.State == "running"), l...)
		e.gauge("towerd_vm_vcpus", "Virtual CPUs.", float64(v.VCPUs), l...)
		e.gauge("towerd_vm_memory_allocated_bytes", "Memory given to the VM.", float64(v.MemoryAllocatedBytes), l...)
		e.gauge("towerd_vm_memory_used_bytes", "Memory the VM uses.", float64(v.MemoryUsedBytes), l...)
		e.gauge("towerd_vm_host_cpu_percent", "Host CPU used by the VM.", v.HostCPUPercent, l...)
		e.counter("towerd_vm_disk_read_bytes_total", "Bytes the VM read from its disks.", float64(v.DiskReadBytes), l...)
		e.counter("towerd_vm_disk_written_bytes_total", "Bytes the VM wrote to its disks.", float64(v.DiskWriteBytes), l...)
	}
	return nil
}

func ups(e *emitter, data []byte) error {
	var u schema.UPS
	if err := json.Unmarshal(data, &u); err != nil {
		return err
	}
	e.gauge("towerd_ups_connected", "1 when a UPS daemon answered.", b2f(u.Connected))
	if !u.Connected {
		return nil
	}
	e.gauge("towerd_ups_info", "UPS facts; always 1.", 1, "model", u.Model, "status", u.Status)
	e.gauge("towerd_ups_on_battery", "1 while the UPS runs on battery.", b2f(onBattery(u.Status)))
	e.gauge("towerd_ups_battery_charge_percent", "Battery charge.", u.BatteryChargePercent)
	e.gauge("towerd_ups_battery_runtime_seconds", "Estimated runtime on battery.", float64(u.BatteryRuntimeSeconds))
	e.gauge("towerd_ups_load_percent", "Load.", u.LoadPercent)
	e.gauge("towerd_ups_input_voltage_volts", "Input voltage.", u.InputVoltage)
	e.gauge("towerd_ups_output_voltage_volts", "Output voltage.", u.OutputVoltage)
	e.gauge("towerd_ups_power_watts", "Power drawn by the load.", u.PowerWatts)
	e.gauge("towerd_ups_nominal_power_watts", "Nominal power of the UPS.", u.NominalPowerWatts)
	return nil
}

func gpus(e *emitter, data []byte) error {
	var list []schema.GPU
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	for _, g := range list {
		l := []string{"gpu", strconv.Itoa(g.Index), "vendor", g.Vendor}
		e.gauge("towerd_gpu_info", "GPU facts; always 1.", 1, "gpu", strconv.Itoa(g.Index), "vendor", g.Vendor,
			"name", g.Name, "driver_version", g.DriverVersion)
		e.gauge("towerd_gpu_available", "1 when the GPU answered.", b2f(g.Available), l...)
		e.gauge("towerd_gpu_utilization_percent", "GPU utilisation.", g.UtilizationGPUPercent, l...)
		e.gauge("towerd_gpu_memory_utilization_percent", "GPU memory controller utilisation.", g.UtilizationMemoryPercent, l...)
		e.gauge("towerd_gpu_memory_total_bytes", "GPU memory size.", float64(g.MemoryTotalBytes), l...)
		e.gauge("towerd_gpu_memory_used_bytes", "GPU memory in use.", float64(g.MemoryUsedBytes), l...)
		e.gauge("towerd_gpu_temperature_celsius", "GPU temperature.", g.TemperatureCelsius, l...)
		e.gauge("towerd_gpu_power_draw_watts", "GPU power draw.", g.PowerDrawWatts, l...)
	}
	return nil
}

func network(e *emitter, data []byte) error {
	var list []schema.NetworkInterface
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	for _, n := range list {
		l := []string{"device", n.Name}
		e.gauge("towerd_network_info", "Interface facts; always 1.", 1, "device", n.Name, "address", n.MACAddress,
			"ip_address", n.IPAddress, "operstate", n.State)
		e.gauge("towerd_network_up", "1 when the interface is up.", b2f(strings.EqualFold(n.State, "up")), l...)
		e.gauge("towerd_network_speed_bytes", "Link speed in bytes per second.", float64(n.SpeedMbps)*125000, l...)
		e.counter("towerd_network_receive_bytes_total", "Bytes received.", float64(n.BytesReceived), l...)
		e.counter("towerd_network_transmit_bytes_total", "Bytes sent.", float64(n.BytesSent), l...)
		e.counter("towerd_network_receive_packets_total", "Packets received.", float64(n.PacketsReceived), l...)
		e.counter("towerd_network_transmit_packets_total", "Packets sent.", float64(n.PacketsSent), l...)
		e.counter("towerd_network_receive_errs_total", "Receive errors.", float64(n.ErrorsReceived), l...)
		e.counter("towerd_network_transmit_errs_total", "Transmit errors.", float64(n.ErrorsSent), l...)
	}
	return nil
}

func shares(e *emitter, data []byte) error {
	var list []schema.Share
	if err := json.Unmarshal(data, &list); err != nil {
		return err
	}
	for _, s := range list {
		l := []string{"share", s.Name}
		e.gauge("towerd_share_size_bytes", "Share capacity.", float64(s.SizeBytes), l...)
		e.gauge("towerd_share_used_bytes", "Share space used.", float64(s.UsedBytes), l...)
		e.gauge("towerd_share_free_bytes", "Share space free.", float64(s.FreeBytes), l...)
		e.gauge("towerd_share_usage_percent", "Share space used.", s.UsagePercent, l...)
	}
	return nil
}

// onBattery reads apcupsd ("ONBATT") and NUT ("OB DISCHRG") status words.
func onBattery(status string) bool {
	for _, w := range strings.Fields(strings.ToUpper(status)) {
		if w == "ONBATT" || w == "OB" {
			return true
		}
	}
	return false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emitter builds const metrics; label arguments are name, value pairs.
type emitter struct {
	ch    chan<- prometheus.Metric
	descs map[string]*prometheus.Desc
}

func (e *emitter) gauge(name, help string, v float64, labels ...string) {
	e.emit(name, help, prometheus.GaugeValue, v, labels)
}

func (e *emitter) counter(name, help string, v float64, labels ...string) {
	e.emit(name, help, prometheus.CounterValue, v, labels)
}

func (e *emitter) emit(name, help string, t prometheus.ValueType, v float64, labels []string) {
	names := make([]string, 0, len(labels)/2)
	values := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		names = append(names, labels[i])
		values = append(values, labels[i+1])
	}
	key := name + "\x00" + strings.Join(names, ",")
	if e.descs == nil {
		e.descs = map[string]*prometheus.Desc{}
	}
	d, ok := e.descs[key]
	if !ok {
		d = prometheus.NewDesc(name, help, names, nil)
		e.descs[key] = d
	}
	m, err := prometheus.NewConstMetric(d, t, v, values...)
	if err != nil { // e.g. a label value that is not UTF-8: skip the sample
		return
	}
	e.ch <- m
}

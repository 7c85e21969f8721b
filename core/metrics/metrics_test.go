package metrics

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/schema"
)

func publish(t *testing.T, b *bus.Bus, topic string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	b.Publish(topic, data)
}

// Payloads of the collectors whose hardware is absent here (UPS, GPU,
// containers, VMs), in their real wire shape, become the documented
// metrics with the right names, labels and values.
func TestPayloadMetrics(t *testing.T) {
	b := bus.New()
	publish(t, b, schema.TopicUPS, schema.UPS{Connected: true, Model: "Back-UPS RS 1500G", Status: "OB DISCHRG",
		BatteryChargePercent: 87, BatteryRuntimeSeconds: 1800, RuntimeLeftSeconds: 1800, LoadPercent: 23,
		InputVoltage: 230, OutputVoltage: 230, PowerWatts: 150, NominalPowerWatts: 865})
	publish(t, b, schema.TopicGPU, []schema.GPU{{Available: true, Index: 0, Vendor: "nvidia", Name: "GeForce GTX 1660",
		DriverVersion: "550.54", UtilizationGPUPercent: 42, MemoryTotalBytes: 6 << 30, MemoryUsedBytes: 1 << 30,
		TemperatureCelsius: 51, PowerDrawWatts: 30.5}})
	publish(t, b, schema.TopicContainers, []schema.Container{{ID: "abc123def456", Name: "nginx", Image: "nginx:latest",
		State: "running", CPUPercent: 0.5, MemoryUsageBytes: 52428800, MemoryLimitBytes: 2147483648,
		NetworkRxBytes: 1234567, NetworkTxBytes: 7654321, RestartCount: 2, Ports: []schema.Port{}}})
	publish(t, b, schema.TopicVMs, []schema.VM{{ID: "5a1c", Name: "Windows 11", State: "paused", VCPUs: 4,
		MemoryAllocatedBytes: 8 << 30}})
	publish(t, b, schema.TopicArray, schema.Array{State: "STARTED", NumDisks: 6, NumDataDisks: 4, NumParityDisks: 2,
		ParityValid: true, TotalBytes: 4000, UsedBytes: 1000, FreeBytes: 3000, ParityCheckStatus: "idle"})
	publish(t, b, schema.TopicDisks, []schema.Disk{
		{ID: "disk1", Device: "sdb", Name: "disk1", Role: "data", SMARTStatus: "PASSED", SpinState: "active", TemperatureCelsius: 34, SizeBytes: 4000},
		{ID: "disk2", Device: "sdc", Name: "disk2", Role: "data", SMARTStatus: "FAILED", SpinState: "standby", SMARTErrors: 3},
		{ID: "cache", Device: "nvme0n1", Name: "cache", Role: "cache", SMARTStatus: "UNKNOWN", SpinState: "unknown"},
	})
	c := New(Source{
		Bus: b,
		Collectors: func() []api.CollectorStatus {
			return []api.CollectorStatus{
				{Name: "ups", Enabled: true, Status: "running", Restarts: 3, ErrorCount: 1, IntervalSeconds: 10,
					LastCollectMillis: 12.5, LastSuccess: time.Unix(1700000000, 0), Version: "1.0.0", Topic: schema.TopicUPS},
				{Name: "vm", Enabled: false, Status: "disabled", IntervalSeconds: 10, Topic: schema.TopicVMs},
			}
		},
		WSClients: func() int { return 3 },
		WSDropped: func() int64 { return 1 },
	})

	want := `
# HELP towerd_ups_battery_charge_percent Battery charge.
# TYPE towerd_ups_battery_charge_percent gauge
towerd_ups_battery_charge_percent 87
# HELP towerd_ups_battery_runtime_seconds Estimated runtime on battery.
# TYPE towerd_ups_battery_runtime_seconds gauge
towerd_ups_battery_runtime_seconds 1800
# HELP towerd_ups_load_percent Load.
# TYPE towerd_ups_load_percent gauge
towerd_ups_load_percent 23
# HELP towerd_ups_on_battery 1 while the UPS runs on battery.
# TYPE towerd_ups_on_battery gauge
towerd_ups_on_battery 1
# HELP towerd_gpu_utilization_percent GPU utilisation.
# TYPE towerd_gpu_utilization_percent gauge
towerd_gpu_utilization_percent{gpu="0",vendor="nvidia"} 42
# HELP towerd_container_running 1 when the container runs.
# TYPE towerd_container_running gauge
towerd_container_running{name="nginx"} 1
# HELP towerd_container_network_receive_bytes_total Bytes received by the container.
# TYPE towerd_container_network_receive_bytes_total counter
towerd_container_network_receive_bytes_total{name="nginx"} 1.234567e+06
# HELP towerd_vm_running 1 when the VM runs.
# TYPE towerd_vm_running gauge
towerd_vm_running{name="Windows 11"} 0
# HELP towerd_vm_info VM facts; always 1.
# TYPE towerd_vm_info gauge
towerd_vm_info{id="5a1c",name="Windows 11",state="paused"} 1
# HELP towerd_array_state Array state; 1 for the current state.
# TYPE towerd_array_state gauge
towerd_array_state{state="STARTED"} 1
# HELP towerd_array_disks Disks in the array by kind.
# TYPE towerd_array_disks gauge
towerd_array_disks{kind="all"} 6
towerd_array_disks{kind="data"} 4
towerd_array_disks{kind="parity"} 2
# HELP towerd_disk_smart_healthy SMART overall health: 1 PASSED, 0 FAILED, -1 unknown.
# TYPE towerd_disk_smart_healthy gauge
towerd_disk_smart_healthy{device="nvme0n1",disk="cache"} -1
towerd_disk_smart_healthy{device="sdb",disk="disk1"} 1
towerd_disk_smart_healthy{device="sdc",disk="disk2"} 0
# HELP towerd_disk_spun_up 1 when the disk is spinning (active).
# TYPE towerd_disk_spun_up gauge
towerd_disk_spun_up{device="nvme0n1",disk="cache"} 0
towerd_disk_spun_up{device="sdb",disk="disk1"} 1
towerd_disk_spun_up{device="sdc",disk="disk2"} 0
# HELP towerd_collector_up 1 when the collector's plugin is running.
# TYPE towerd_collector_up gauge
towerd_collector_up{collector="ups"} 1
towerd_collector_up{collector="vm"} 0
# HELP towerd_collector_restarts_total Plugin restarts since towerd started.
# TYPE towerd_collector_restarts_total counter
towerd_collector_restarts_total{collector="ups"} 3
towerd_collector_restarts_total{collector="vm"} 0
# HELP towerd_collector_last_duration_seconds Duration of the last collect.
# TYPE towerd_collector_last_duration_seconds gauge
towerd_collector_last_duration_seconds{collector="ups"} 0.0125
towerd_collector_last_duration_seconds{collector="vm"} 0
# HELP towerd_collector_last_success_timestamp_seconds Unix time of the last successful collect.
# TYPE towerd_collector_last_success_timestamp_seconds gauge
towerd_collector_last_success_timestamp_seconds{collector="ups"} 1.7e+09
# HELP towerd_websocket_clients WebSocket clients connected.
# TYPE towerd_websocket_clients gauge
towerd_websocket_clients 3
`
	names := []string{}
	for _, line := range strings.Split(want, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// The whole output is lint-clean by Prometheus's own rules.
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// A disconnected UPS and a payload that does not decode do not break the
// scrape: the first shows connected 0, the second a decode error marker.
func TestDegradedPayloads(t *testing.T) {
	b := bus.New()
	b.Publish(schema.TopicUPS, []byte(`{"connected":false}`))
	b.Publish(schema.TopicDisks, []byte(`{"not":"a list"}`))
	c := New(Source{Bus: b})
	want := `
# HELP towerd_ups_connected 1 when a UPS daemon answered.
# TYPE towerd_ups_connected gauge
towerd_ups_connected 0
# HELP towerd_topic_decode_errors 1 when the topic's cached payload could not be read for metrics.
# TYPE towerd_topic_decode_errors gauge
towerd_topic_decode_errors{topic="disk_list_update"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"towerd_ups_connected", "towerd_topic_decode_errors", "towerd_ups_battery_charge_percent"); err != nil {
		t.Error(err)
	}
}

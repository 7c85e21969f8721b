package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The MQTT output's counters appear while it is on, and not at all while
// it is off.
func TestMQTTCounters(t *testing.T) {
	on := New(Source{MQTT: func() (MQTTStats, bool) {
		return MQTTStats{Connected: true, Published: 120, Dropped: 7, Entities: 42}, true
	}})
	want := `
# HELP towerd_mqtt_connected 1 while the MQTT output is connected to its broker.
# TYPE towerd_mqtt_connected gauge
towerd_mqtt_connected 1
# HELP towerd_mqtt_discovery_entities Home Assistant entities announced by MQTT discovery.
# TYPE towerd_mqtt_discovery_entities gauge
towerd_mqtt_discovery_entities 42
`
	if err := testutil.CollectAndCompare(on, strings.NewReader(want), "towerd_mqtt_connected", "towerd_mqtt_discovery_entities"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(on, "towerd_mqtt_dropped_messages_total"); n != 1 {
		t.Errorf("dropped counter: %d series", n)
	}
	off := New(Source{MQTT: func() (MQTTStats, bool) { return MQTTStats{}, false }})
	if n := testutil.CollectAndCount(off); n != 0 {
		t.Errorf("MQTT off: %d series, want none", n)
	}
}

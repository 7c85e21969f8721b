package metrics_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

var storage = []string{"system", "network", "array", "disk", "shares"}

func scrape(t *testing.T, a *coretest.Agent) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := a.Do(t, http.MethodGet, "/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the sample of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

type lastSuccess map[string]time.Time

func successes(t *testing.T, a *coretest.Agent) lastSuccess {
	var list struct {
		Collectors []struct {
			Name        string    `json:"name"`
			LastSuccess time.Time `json:"last_success"`
		} `json:"collectors"`
	}
	a.GetJSON(t, "/api/v1/collectors", &list)
	out := lastSuccess{}
	for _, c := range list.Collectors {
		out[c.Name] = c.LastSuccess
	}
	return out
}

// towerd on the fixture Unraid tree serves the collected values and its
// own health at /metrics, and 50 scrapes cause no collect at all: they are
// answered from the cache.
func TestMetricsFromCache(t *testing.T) {
	t.Parallel()
	args := []string{}
	for _, n := range storage {
		args = append(args, "--interval-"+n, "86400") // one collect at start, then none
	}
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Plugins(t, storage...),
		Root:    filepath.Join(coretest.RepoRoot(), "testdata", "unraid"),
		Args:    args,
	})
	for _, n := range storage {
		a.WaitCollector(t, n, 30*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	}
	var before lastSuccess
	plugintest.Eventually(t, 30*time.Second, func() bool {
		before = successes(t, a)
		for _, n := range storage {
			if before[n].IsZero() {
				return false
			}
		}
		return true
	}, "not every collector succeeded once")
	ws := a.Dial(t)
	ws.WaitTopic(t, "system_update", 5*time.Second)

	var fams map[string]*dto.MetricFamily
	start := time.Now()
	for i := 0; i < 50; i++ {
		fams = scrape(t, a)
	}
	t.Logf("50 scrapes in %v (%d families)", time.Since(start), len(fams))
	if after := successes(t, a); !equal(before, after) {
		t.Errorf("scrapes caused collects: last_success before %v, after %v", before, after)
	}

	checks := []struct {
		name   string
		labels []string
		ok     func(float64) bool
	}{
		{"towerd_cpu_usage_percent", nil, func(v float64) bool { return v >= 0 && v <= 100 }},
		{"towerd_memory_total_bytes", nil, func(v float64) bool { return v > 0 }},
		{"towerd_uptime_seconds", nil, func(v float64) bool { return v > 0 }},
		{"towerd_array_state", []string{"state", "STARTED"}, func(v float64) bool { return v == 1 }},
		{"towerd_array_size_bytes", nil, func(v float64) bool { return v > 0 }},
		{"towerd_disk_smart_healthy", []string{"disk", "disk1"}, func(v float64) bool { return v == 1 }},
		{"towerd_disk_temperature_celsius", []string{"disk", "parity"}, func(v float64) bool { return v >= 0 }},
		{"towerd_disk_size_bytes", []string{"disk", "disk1"}, func(v float64) bool { return v > 0 }},
		{"towerd_share_size_bytes", []string{"share", "appdata"}, func(v float64) bool { return v >= 0 }},
		{"towerd_websocket_clients", nil, func(v float64) bool { return v == 1 }},
	}
	for _, c := range checks {
		v, found := value(fams, c.name, c.labels...)
		if !found || !c.ok(v) {
			t.Errorf("%s%v = %v (found %v)", c.name, c.labels, v, found)
		}
	}
	var ifaces []struct {
		Name          string `json:"name"`
		BytesReceived uint64 `json:"bytes_received"`
	}
	a.GetJSON(t, "/api/v1/network", &ifaces)
	if len(ifaces) == 0 {
		t.Error("no network interfaces to check")
	}
	for _, i := range ifaces {
		if v, ok := value(fams, "towerd_network_receive_bytes_total", "device", i.Name); !ok || v != float64(i.BytesReceived) {
			t.Errorf("towerd_network_receive_bytes_total{device=%q} = %v, %v; REST says %d", i.Name, v, ok, i.BytesReceived)
		}
		if _, ok := value(fams, "towerd_network_up", "device", i.Name); !ok {
			t.Errorf("towerd_network_up{device=%q} missing", i.Name)
		}
	}
	for _, n := range storage {
		if v, ok := value(fams, "towerd_collector_up", "collector", n); !ok || v != 1 {
			t.Errorf("towerd_collector_up{collector=%q} = %v, %v", n, v, ok)
		}
		if v, ok := value(fams, "towerd_collector_last_success_timestamp_seconds", "collector", n); !ok ||
			time.Unix(int64(v), 0).Before(time.Now().Add(-time.Hour)) {
			t.Errorf("last success of %s = %v, %v", n, v, ok)
		}
		if _, ok := value(fams, "towerd_collector_restarts_total", "collector", n); !ok {
			t.Errorf("no restarts counter for %s", n)
		}
	}
	for _, n := range []string{"docker", "vm", "ups", "gpu"} {
		if v, ok := value(fams, "towerd_collector_up", "collector", n); !ok || v != 0 {
			t.Errorf("uninstalled %s: collector_up = %v, %v; want 0", n, v, ok)
		}
	}
	if _, ok := fams["towerd_ups_connected"]; ok {
		t.Error("towerd_ups_connected present without a ups collector")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("Go runtime metrics missing")
	}
}

func equal(a, b lastSuccess) bool {
	b2, _ := json.Marshal(b)
	a2, _ := json.Marshal(a)
	return bytes.Equal(a2, b2)
}

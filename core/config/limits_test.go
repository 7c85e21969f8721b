package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every numeric setting is checked at load against the bounds the API
// uses; values that used to overflow into a tiny or negative interval
// (18446744074 s is 0.29 s as a time.Duration, 9223372036854775807 s is
// -1 s) are refused, and the error names the file and the key.
func TestNumericSettingsOutOfRangeRefused(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ body, key string }{
		"interval 1":       {`{"collectors":{"system":{"interval_seconds":1}}}`, "collectors.system.interval_seconds: 1 is out of range: want 5 to 86400"},
		"interval 4":       {`{"collectors":{"system":{"interval_seconds":4}}}`, "collectors.system.interval_seconds: 4"},
		"interval wraps":   {`{"collectors":{"system":{"interval_seconds":18446744074}}}`, "collectors.system.interval_seconds: 18446744074 is out of range"},
		"interval max64":   {`{"collectors":{"disk":{"interval_seconds":9223372036854775807}}}`, "collectors.disk.interval_seconds: 9223372036854775807 is out of range"},
		"interval 86401":   {`{"collectors":{"disk":{"interval_seconds":86401}}}`, "collectors.disk.interval_seconds: 86401"},
		"interval neg":     {`{"collectors":{"disk":{"interval_seconds":-5}}}`, "collectors.disk.interval_seconds: -5"},
		"timeout huge":     {`{"collectors":{"vm":{"timeout_seconds":9223372036854775807}}}`, "collectors.vm.timeout_seconds: 9223372036854775807 is out of range: want 1 to 3600"},
		"timeout neg":      {`{"collectors":{"vm":{"timeout_seconds":-1}}}`, "collectors.vm.timeout_seconds: -1"},
		"memory overflows": {`{"collectors":{"gpu":{"memory_limit_mb":9223372036854775807}}}`, "collectors.gpu.memory_limit_mb: 9223372036854775807 is out of range"},
		"rate huge":        {`{"rate_limit":1e300}`, "rate_limit: 1e+300 is out of range"},
		"port":             {`{"port":-1}`, "port: -1 is out of range"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { openRefused(t, tc.body, tc.key) })
	}
	// The bounds themselves, and zero (the default), load.
	ok := `{"rate_limit":-1,"collectors":{"a":{"interval_seconds":5,"timeout_seconds":1},"b":{"interval_seconds":86400,"timeout_seconds":3600,"memory_limit_mb":1048576},"c":{}}}`
	if _, err := Open(writeSettings(t, ok)); err != nil {
		t.Errorf("bounds refused: %v", err)
	}
}

// A change that would put a value out of range is not saved.
func TestUpdateRefusesOutOfRange(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "towerd.json"))
	if err != nil {
		t.Fatal(err)
	}
	err = s.UpdateCollector("system", func(c *Collector) { c.IntervalSeconds = 1 })
	if err == nil || !strings.Contains(err.Error(), "collectors.system.interval_seconds") {
		t.Fatalf("Update with interval 1: %v", err)
	}
	if s.Collector("system").IntervalSeconds != 0 {
		t.Error("refused change kept in memory")
	}
}

// The API and the file share one definition of the interval bounds.
func TestCheckInterval(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{MinIntervalSeconds, 60, MaxIntervalSeconds} {
		if err := CheckInterval(v); err != nil {
			t.Errorf("%d: %v", v, err)
		}
	}
	for _, v := range []int64{-1, 0, 4, MaxIntervalSeconds + 1, 18446744074, 1<<63 - 1} {
		if err := CheckInterval(v); err == nil {
			t.Errorf("%d accepted", v)
		}
	}
}

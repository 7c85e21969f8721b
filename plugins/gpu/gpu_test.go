package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

// standIns writes stand-in nvidia-smi / intel_gpu_top scripts that check
// their argv and print captured output, into a fresh bin dir. body maps a
// tool name to its script body.
func standIns(t *testing.T, body map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range body {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// nvidiaPrints is a stand-in nvidia-smi that prints a capture for -q -x.
func nvidiaPrints(t *testing.T, capture string) string {
	return fmt.Sprintf("[ \"$*\" = \"-q -x\" ] || { echo \"unexpected args: $*\" >&2; exit 2; }\nexec cat '%s'\n",
		abs(t, filepath.Join("testdata", "nvidia", capture)))
}

// intelStreams is a stand-in intel_gpu_top that, like the real one, prints
// samples and keeps running until it is killed.
func intelStreams(t *testing.T, capture string) string {
	return fmt.Sprintf("[ \"$*\" = \"-J -s 500\" ] || { echo \"unexpected args: $*\" >&2; exit 2; }\ncat '%s'\nexec sleep 60\n",
		abs(t, filepath.Join("testdata", "intel", capture)))
}

func startPlugin(t *testing.T, root, path string, opts map[string]string) *plugintest.Plugin {
	t.Helper()
	bin := plugintest.Build(t, ".", "gpu")
	// go-plugin appends the parent's environment after Cmd.Env, so the
	// plugin's PATH has to be the test's own.
	t.Setenv("PATH", path)
	p := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// sdk.Client.Configure turns a nil gRPC error into a non-nil one with an
	// empty message; treat that as success until the SDK is fixed.
	if err := p.Configure(ctx, sdk.Config{Root: root, Options: opts}); err != nil && err.Error() != "" {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

func collect(t *testing.T, p *plugintest.Plugin) []schema.GPU {
	t.Helper()
	var gs []schema.GPU
	raw := p.CollectJSON(t, &gs)
	if gs == nil {
		t.Fatalf("payload %s is not a list", raw)
	}
	for i := range gs {
		gs[i].Timestamp = time.Time{}
	}
	return gs
}

var (
	wantIntel = schema.GPU{Available: true, Index: 0, Vendor: "intel", Name: "Intel UHD Graphics 630",
		DriverVersion: "6.12.24-Unraid", CPUTemperatureCelsius: 38, UtilizationGPUPercent: 43.209, PowerDrawWatts: 4.12}
	wantAMD = schema.GPU{Available: true, Index: 1, Vendor: "amd", Name: "AMD Radeon RX 6800/6800 XT / 6900 XT",
		DriverVersion: "6.12.24-Unraid", TemperatureCelsius: 52, CPUTemperatureCelsius: 38,
		UtilizationGPUPercent: 27, UtilizationMemoryPercent: 9,
		MemoryTotalBytes: 17163091968, MemoryUsedBytes: 1491300352, PowerDrawWatts: 38}
	wantNvidia = schema.GPU{Available: true, Index: 2, Vendor: "nvidia", Name: "Graphics Device",
		DriverVersion: "418.43", TemperatureCelsius: 40, CPUTemperatureCelsius: 38,
		UtilizationGPUPercent: 0, UtilizationMemoryPercent: 1,
		MemoryTotalBytes: 5912 << 20, MemoryUsedBytes: 0, PowerDrawWatts: 8.93}
)

func diff(t *testing.T, got, want []schema.GPU) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if !bytes.Equal(g, w) {
		t.Fatalf("payload\n got %s\nwant %s", g, w)
	}
}

// TestTower runs the real plugin on a fixture tree with an Intel iGPU, an
// AMD and an NVIDIA card (and a BMC display it must skip), with stand-in
// tools on PATH, so the real exec paths run.
func TestTower(t *testing.T) {
	root := abs(t, "testdata/root-tower")
	full := standIns(t, map[string]string{
		"nvidia-smi":    nvidiaPrints(t, "gtx-1660-ti-418.43.xml"),
		"intel_gpu_top": intelStreams(t, "uhd630-transcode.json"),
	})
	noNvidia := standIns(t, map[string]string{"intel_gpu_top": intelStreams(t, "uhd630-transcode.json")})
	broken := standIns(t, map[string]string{
		"nvidia-smi":    fmt.Sprintf("cat '%s'\nexit 9\n", abs(t, "testdata/nvidia/no-driver.txt")),
		"intel_gpu_top": "echo 'Failed to initialize PMU! (Permission denied)' >&2\nexit 1\n",
	})
	nvidiaOff := schema.GPU{Available: false, Index: 2, Vendor: "nvidia", Name: "NVIDIA GeForce GTX 1660",
		DriverVersion: "nvidia", CPUTemperatureCelsius: 38}
	intelNoTop := wantIntel
	intelNoTop.UtilizationGPUPercent, intelNoTop.PowerDrawWatts = 0, 0 // first RAPL reading: no delta yet

	for _, tc := range []struct {
		name string
		path string
		want []schema.GPU
	}{
		{"all tools", full + ":/usr/bin:/bin", []schema.GPU{wantIntel, wantAMD, wantNvidia}},
		{"no nvidia-smi", noNvidia + ":/usr/bin:/bin", []schema.GPU{wantIntel, wantAMD, nvidiaOff}},
		{"tools failing", broken + ":/usr/bin:/bin", []schema.GPU{intelNoTop, wantAMD, nvidiaOff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlugin(t, root, tc.path, nil)
			diff(t, collect(t, p), tc.want)
		})
	}

	t.Run("v13 XML, two ticks", func(t *testing.T) {
		bin := standIns(t, map[string]string{"nvidia-smi": nvidiaPrints(t, "rtx-4000-sff-ada-595.84-trimmed.xml")})
		p := startPlugin(t, t.TempDir(), bin+":/usr/bin:/bin", nil)
		want := []schema.GPU{{Available: true, Index: 0, Vendor: "nvidia", Name: "NVIDIA RTX 4000 SFF Ada Generation",
			DriverVersion: "595.84", TemperatureCelsius: 38, UtilizationMemoryPercent: 37,
			MemoryTotalBytes: 20475 << 20, MemoryUsedBytes: 3534 << 20, PowerDrawWatts: 8.44}}
		for i := 0; i < 2; i++ {
			diff(t, collect(t, p), want)
		}
	})
}

// TestNoGPU: no DRM devices and no tools → an empty list on every tick.
func TestNoGPU(t *testing.T) {
	p := startPlugin(t, t.TempDir(), standIns(t, nil), nil)
	for i := 0; i < 3; i++ {
		raw := p.CollectJSON(t, nil)
		if string(raw) != "[]" {
			t.Fatalf("tick %d: payload %s, want []", i, raw)
		}
	}
}

// TestHangingTools: tools that never answer cost at most exec_timeout.
func TestHangingTools(t *testing.T) {
	bin := standIns(t, map[string]string{"nvidia-smi": "exec sleep 60\n", "intel_gpu_top": "exec sleep 60\n"})
	p := startPlugin(t, abs(t, "testdata/root-tower"), bin+":/usr/bin:/bin",
		map[string]string{"exec_timeout": "300ms", "intel_sample_ms": "100"})
	start := time.Now()
	gs := collect(t, p)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Collect took %v with hanging tools", d)
	}
	if len(gs) != 3 || gs[0].UtilizationGPUPercent != 0 || gs[2].Available {
		t.Fatalf("hanging tools: %+v", gs)
	}
}

// TestLogsOnce: a missing source is logged once, not on every tick.
func TestLogsOnce(t *testing.T) {
	t.Setenv("PATH", standIns(t, nil))
	logs := &plugintest.SyncBuffer{}
	c := newCollector()
	c.log = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	if err := c.Configure(context.Background(), sdk.Config{Root: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		v, err := c.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if gs := v.([]schema.GPU); gs == nil || len(gs) != 0 {
			t.Fatalf("tick %d: %#v, want an empty non-nil list", i, gs)
		}
	}
	for _, msg := range []string{"no GPU found", "no DRM devices"} {
		if n := strings.Count(logs.String(), msg); n != 1 {
			t.Errorf("%q logged %d times over 3 ticks:\n%s", msg, n, logs.String())
		}
	}
}

// TestEnergyBetweenTicks: without intel_gpu_top, iGPU power is the RAPL
// uncore energy used between two ticks.
func TestEnergyBetweenTicks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "energy_uj")
	c := newCollector()
	t0 := time.Unix(1000, 0)
	for _, step := range []struct {
		uj   string
		at   time.Time
		want float64
		ok   bool
	}{
		{"1000000000", t0, 0, false},                      // first reading
		{"1020000000", t0.Add(10 * time.Second), 2, true}, // 20 J in 10 s
		{"1020500000", t0.Add(20 * time.Second), 0.05, true},
		{"500", t0.Add(30 * time.Second), 0, false}, // wrapped
	} {
		if err := os.WriteFile(p, []byte(step.uj+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok := c.watts(p, step.at)
		if ok != step.ok || got != step.want {
			t.Fatalf("energy %s: got %v,%v want %v,%v", step.uj, got, ok, step.want, step.ok)
		}
	}
}

func TestDescribeAndOptions(t *testing.T) {
	info := newCollector().Describe()
	if info.Name != "gpu" || info.Topic != schema.TopicGPU || info.DefaultInterval != 10*time.Second {
		t.Fatalf("Describe = %+v", info)
	}
	for _, tc := range []struct {
		opts map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"nvidia_smi": "/usr/bin/nvidia-smi", "intel_gpu_top": "", "intel_sample_ms": "1000", "exec_timeout": "2s"}, true},
		{map[string]string{"nvidia_smi": "-q"}, false},
		{map[string]string{"intel_sample_ms": "10"}, false},
		{map[string]string{"exec_timeout": "forever"}, false},
		{map[string]string{"colour": "red"}, false},
	} {
		if _, err := parseOptions(tc.opts); (err == nil) != tc.ok {
			t.Errorf("parseOptions(%v): %v, want ok=%v", tc.opts, err, tc.ok)
		}
	}
}

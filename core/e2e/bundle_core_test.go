package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/core/coretest"
)

func statusByName(t *testing.T, a *coretest.Agent) map[string]coretest.Collector {
	t.Helper()
	var list struct {
		Collectors []coretest.Collector `json:"collectors"`
	}
	a.GetJSON(t, "/api/v1/collectors/status", &list)
	out := map[string]coretest.Collector{}
	for _, c := range list.Collectors {
		out[c.Name] = c
	}
	return out
}

func isRunning(c coretest.Collector) bool { return c.Status == "running" && c.PID > 0 }

// A bundle in towerd: two collectors in one process, each listed, served
// and managed on its own (enable flag, interval, status, data path,
// topic); the process runs while either is enabled; kill -9 restarts it
// and both report the restart.
func TestBundleCollectorsInTowerd(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "bundle", "echo")})
	ws := a.Dial(t)
	ws.Subscribe(t, "bundle_one_update", "bundle_two_update")
	plugintestEventually(t, 15*time.Second, func() bool { _, ok := statusByName(t, a)["bundle_two"]; return ok },
		"the bundle's collectors are never listed")
	one := a.WaitCollector(t, "bundle_one", 15*time.Second, isRunning)
	two := a.WaitCollector(t, "bundle_two", 15*time.Second, isRunning)
	if one.PID != two.PID || one.Topic != "bundle_one_update" || two.Topic != "bundle_two_update" || one.Version != "9.9.9" {
		t.Fatalf("bundle collectors %+v / %+v", one, two)
	}
	list := statusByName(t, a)
	if _, ok := list["bundle"]; ok {
		t.Errorf("the bundle's file is listed as a collector: %v", list)
	}
	for _, n := range []string{"bundle_one", "bundle_two", "echo"} {
		if _, ok := list[n]; !ok {
			t.Errorf("/collectors/status lacks %s", n)
		}
	}
	for _, topic := range []string{"bundle_one_update", "bundle_two_update"} {
		ws.WaitTopic(t, topic, 10*time.Second)
	}
	for _, n := range []string{"bundle_one", "bundle_two"} {
		var v map[string]any
		a.GetJSON(t, "/api/v1/collectors/"+n+"/data", &v)
		if v["timestamp"] == nil {
			t.Errorf("%s data %v", n, v)
		}
	}
	// Interval per collector.
	mustOK(t, a, http.MethodPatch, "/api/v1/collectors/bundle_two/interval", `{"interval":42}`)
	if c := a.Collector(t, "bundle_two"); c.IntervalSeconds != 42 {
		t.Errorf("bundle_two interval %d", c.IntervalSeconds)
	}
	if c := a.Collector(t, "bundle_one"); c.IntervalSeconds == 42 {
		t.Errorf("bundle_one took bundle_two's interval")
	}
	// Actions name the collector.
	code, body := a.Do(t, http.MethodPost, "/api/v1/collectors/bundle_two/actions/ping", `{"target":"x"}`)
	if code != http.StatusOK || !strings.Contains(string(body), "ping x ok") {
		t.Errorf("bundle action: %d %s", code, body)
	}

	// One off: the other keeps the process.
	mustOK(t, a, http.MethodPost, "/api/v1/collectors/bundle_one/disable", "")
	if c := a.Collector(t, "bundle_one"); c.Status != "disabled" || c.Enabled {
		t.Errorf("bundle_one after disable: %+v", c)
	}
	if c := a.Collector(t, "bundle_two"); !isRunning(c) || c.PID != one.PID {
		t.Errorf("bundle_two after its sibling's disable: %+v", c)
	}
	if code, _ := a.Do(t, http.MethodGet, "/api/v1/collectors/bundle_one/data", ""); code != http.StatusNotFound {
		t.Errorf("disabled collector's data still served: %d", code)
	}
	// Both off: no bundle process.
	mustOK(t, a, http.MethodPost, "/api/v1/collectors/bundle_two/disable", "")
	plugintestEventually(t, 5*time.Second, func() bool { _, ok := readProc(one.PID); return !ok }, "bundle process runs with no collector enabled")
	if n := len(a.PluginProcesses()); n != 1 {
		t.Errorf("%d plugin processes, want only echo", n)
	}
	// Back on, one after the other: one process.
	mustOK(t, a, http.MethodPost, "/api/v1/collectors/bundle_one/enable", "")
	one = a.WaitCollector(t, "bundle_one", 10*time.Second, isRunning)
	if c := a.Collector(t, "bundle_two"); c.Status != "disabled" {
		t.Errorf("bundle_two came back without being enabled: %+v", c)
	}
	mustOK(t, a, http.MethodPost, "/api/v1/collectors/bundle_two/enable", "")
	two = a.WaitCollector(t, "bundle_two", 10*time.Second, isRunning)
	if two.PID != one.PID {
		t.Errorf("two processes for one bundle: %d and %d", one.PID, two.PID)
	}

	// kill -9: both report the restart.
	if err := syscall.Kill(one.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, before := range []coretest.Collector{one, two} {
		c := a.WaitCollector(t, before.Name, 10*time.Second, func(c coretest.Collector) bool { return isRunning(c) && c.PID != before.PID })
		if c.Restarts != before.Restarts+1 || c.LastError == "" {
			t.Errorf("%s after kill -9: restarts %d (before %d), last_error %q", c.Name, c.Restarts, before.Restarts, c.LastError)
		}
	}
	// The settings file keeps each collector's own settings.
	b, err := os.ReadFile(a.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Collectors map[string]json.RawMessage `json:"collectors"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Collectors["bundle_two"] == nil || cfg.Collectors["bundle_one"] == nil {
		t.Errorf("settings file %s", b)
	}
}

// Collector names are unique across plugins: a bundle that describes a
// collector named like another plugin is refused with a clear reason.
func TestBundleDuplicateNameRefused(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.TestPlugins(t, "echo", "dupbundle")})
	c := a.WaitCollector(t, "dupbundle", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
	if !strings.Contains(c.LastError, `collector name "echo"`) {
		t.Errorf("duplicate refused with %q", c.LastError)
	}
	if c := a.WaitCollector(t, "echo", 10*time.Second, isRunning); c.Topic != "echo_update" {
		t.Errorf("echo disturbed: %+v", c)
	}
}

// Single-collector plugins are unchanged beside a bundle: each of the
// built-ins and the Node.js example runs as its own process serving one
// collector of its own name and topic.
func TestSingleCollectorPluginsUnchangedBesideBundle(t *testing.T) {
	t.Parallel()
	script := nodePlugin(t)
	launcher := filepath.Join(t.TempDir(), "tcpstates")
	if err := os.WriteFile(launcher, []byte("#!/bin/sh\nexec "+script+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	builtins := builtinPlugins(t)
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Merge(
		coretest.Plugins(t, builtins...), coretest.TestPlugins(t, "bundle"), map[string]string{"tcpstates": launcher})})
	pids := map[int][]string{}
	plugintestEventually(t, 20*time.Second, func() bool { _, ok := statusByName(t, a)["bundle_two"]; return ok },
		"the bundle's collectors are never listed")
	for _, n := range append(append([]string{}, builtins...), "tcpstates", "bundle_one", "bundle_two") {
		c := a.WaitCollector(t, n, 30*time.Second, isRunning)
		pids[c.PID] = append(pids[c.PID], n)
		if e, ok := catalog.Lookup(n); ok && c.Topic != e.Topic {
			t.Errorf("%s topic %q, want %q", n, c.Topic, e.Topic)
		}
	}
	for pid, names := range pids {
		sort.Strings(names)
		if len(names) != 1 && strings.Join(names, ",") != "bundle_one,bundle_two" {
			t.Errorf("process %d serves %v", pid, names)
		}
	}
	if len(pids) != len(builtins)+2 {
		t.Errorf("%d processes for %d built-ins, the Node plugin and a bundle: %v", len(pids), len(builtins), pids)
	}
	for _, n := range []string{"tcpstates", "system", "bundle_one"} {
		plugintestEventually(t, 20*time.Second, func() bool {
			code, _ := a.Do(t, http.MethodGet, "/api/v1/collectors/"+n+"/data", "")
			return code == http.StatusOK
		}, n+" never delivered data")
	}
}

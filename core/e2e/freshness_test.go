package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/schema"
)

// A change of Unraid's state files reaches a WebSocket client at once:
// towerd watches the files the array, disk and shares collectors declare
// and collects on a change instead of waiting for the tick. The intervals
// are an hour here, so an event within the deadline can only come from the
// watcher; the deadline is generous because the machine may be busy (the
// benchmark measures the latency: bench/README.md).
func TestStateFileChangeReachesClientsAtOnce(t *testing.T) {
	t.Parallel()
	root := coretest.FixtureCopy(t)
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Plugins(t, "array", "disk", "shares"),
		Root:    root,
		Args:    []string{"--interval-array", "3600", "--interval-disk", "3600", "--interval-shares", "3600"},
	})
	ws := a.Dial(t)
	// Each plugin collects once when it is up; the client gets that first.
	first := map[string]bool{schema.TopicArray: false, schema.TopicDisks: false, schema.TopicShares: false}
	for n := 0; n < 3; {
		ev := ws.Next(t, 30*time.Second)
		if seen, ok := first[ev.Topic]; ok && !seen {
			first[ev.Topic] = true
			n++
		}
	}
	ini := func(name string) string { return filepath.Join(root, "var/local/emhttp", name) }
	const within = 5 * time.Second

	// In place, as emhttpd writes var.ini.
	edit(t, ini("var.ini"), `mdState="STARTED"`, `mdState="STOPPED"`, false)
	waitFor(t, a, ws, schema.TopicArray, within, func(data []byte) bool {
		var v schema.Array
		return json.Unmarshal(data, &v) == nil && strings.EqualFold(v.State, "STOPPED")
	})
	// Replaced by rename, as an editor or an atomic writer does.
	edit(t, ini("var.ini"), `mdState="STOPPED"`, `mdState="STARTED"`, true)
	waitFor(t, a, ws, schema.TopicArray, within, func(data []byte) bool {
		var v schema.Array
		return json.Unmarshal(data, &v) == nil && strings.EqualFold(v.State, "STARTED")
	})

	edit(t, ini("disks.ini"), `temp="34"`, `temp="47"`, true)
	waitFor(t, a, ws, schema.TopicDisks, within, func(data []byte) bool {
		var v []schema.Disk
		if json.Unmarshal(data, &v) != nil {
			return false
		}
		for _, d := range v {
			if d.Name == "parity" && d.TemperatureCelsius == 47 {
				return true
			}
		}
		return false
	})

	edit(t, ini("shares.ini"), `comment="Application data"`, `comment="Apps, fresh"`, false)
	waitFor(t, a, ws, schema.TopicShares, within, func(data []byte) bool {
		var v []schema.Share
		if json.Unmarshal(data, &v) != nil {
			return false
		}
		for _, s := range v {
			if s.Name == "appdata" && s.Comment == "Apps, fresh" {
				return true
			}
		}
		return false
	})
}

// edit replaces old with new in path, in place or by writing a temporary
// file and renaming it over path.
func edit(t *testing.T, path, old, new string, rename bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %s", path, old)
	}
	b = []byte(strings.Replace(string(b), old, new, 1))
	target := path
	if rename {
		target = path + ".new"
	}
	if err := os.WriteFile(target, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if rename {
		if err := os.Rename(target, path); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor waits for an event of topic whose data satisfies ok, and logs
// how long it took from the change.
func waitFor(t *testing.T, a *coretest.Agent, ws *coretest.WS, topic string, within time.Duration, ok func([]byte) bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %s event with the change within %v; towerd log:\n%s", topic, within, a.Log())
		}
		ev, err := ws.TryTopic(topic, left)
		if err != nil {
			continue
		}
		if ok(ev.Data) {
			t.Logf("%s with the change after %v", topic, ev.Received.Sub(start).Round(time.Millisecond))
			return
		}
	}
}

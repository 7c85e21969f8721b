package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the running agent")

// goldenPaths are the REST paths whose payloads are snapshot: every GET of
// a collector's topic (built-ins and bundles), none of the agent's own
// state (/collectors, /health, /diagnostics): the "same JSON" promise, as
// a diff.
var goldenPaths = []string{
	"/system", "/array", "/disks", "/shares", "/docker", "/vm", "/ups", "/gpu", "/network",
	"/settings/docker", "/settings/vm", "/docker/port-conflicts",
	"/notifications", "/notifications/overview", "/notifications/unread", "/notifications/archive",
	"/array/parity-check/history", "/array/parity-check/schedule", "/user-scripts",
	"/system/flash", "/plugins", "/os/update", "/updates", "/registration",
	"/settings/network-services", "/mover", "/settings/mover", "/settings/disk-thresholds",
	"/unassigned", "/unassigned/devices", "/unassigned/remote-shares", "/fans",
	"/zfs/pools", "/zfs/datasets", "/zfs/snapshots", "/zfs/arc",
}

// statfs are the fields a plugin fills from statfs(2) of a folder of the
// root when the fixture's ini files give no sizes: they depend on the
// filesystem the fixture is copied to.
var statfs = []string{"size_bytes", "total_bytes", "free_bytes", "used_bytes", "usage_percent"}

// mask says where a payload depends on the machine or the moment rather
// than on the fixture. at selects objects: dot-separated steps, each an
// object key, "*" (every element or value), or "key=value" (the elements
// of a list whose key has that string value); "" is the payload itself.
// keys are the fields replaced by their JSON type ("<number>"); nil means
// every field. "timestamp" (collection time) is masked everywhere.
type mask struct {
	at   string
	keys []string
	// firstOnly cuts a list payload to its first item (their number
	// depends on the host).
	firstOnly bool
}

var goldenMasks = map[string][]mask{
	// The system plugin reads the host's /proc and /sys, not the root:
	// only its field names and types are the fixture's business.
	"/system": {{at: ""}},
	// Likewise the host's interfaces: the first one's shape is kept.
	"/network":                  {{firstOnly: true}, {at: "*"}},
	"/disks":                    {{at: "id=docker_vdisk", keys: statfs}, {at: "id=log", keys: statfs}},
	"/shares":                   {{at: "name=isos", keys: statfs}},
	"/system/flash":             {{at: "", keys: statfs}},
	"/unassigned":               {{at: "remote_shares.*", keys: statfs}, {at: "devices.*.partitions.*", keys: statfs}},
	"/unassigned/devices":       {{at: "*.partitions.*", keys: statfs}},
	"/unassigned/remote-shares": {{at: "*", keys: statfs}},
	// libvirt's test driver advances its counters in real time.
	"/vm": {{at: "*", keys: []string{"disk_read_bytes", "disk_write_bytes", "guest_cpu_percent", "host_cpu_percent"}}},
}

// goldenConfig points the collectors that talk to daemons at what every
// machine of the kind has the same: libvirt's built-in test driver (one
// VM, "test"), no Docker daemon (a socket that does not exist: the
// fallback []), no UPS daemon (port 1: disconnected) and no nvidia-smi.
const goldenConfig = `{"collectors":{
 "docker":{"options":{"host":"unix:///nonexistent/docker.sock"}},
 "vm":{"options":{"uri":"test:///default"}},
 "ups":{"options":{"driver":"nut","host":"127.0.0.1","nut_port":"1"}},
 "gpu":{"options":{"nvidia_smi":"/nonexistent/nvidia-smi","intel_gpu_top":""}}}}`

// Every REST topic served on the fixture tree, byte for byte, against
// testdata/golden (go test ./core/e2e -run Golden -update rewrites it).
func TestGolden(t *testing.T) {
	// vm loads libvirt at run time with this tag, as make build does.
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -tags=libvirt_dlopen"))
	root := coretest.FixtureCopy(t)
	// A checkout's files are as old as the checkout: pin every mtime so
	// fields read from it (a user script's last_modified) are the fixture's.
	pinned := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, pinned, pinned)
	}); err != nil {
		t.Fatalf("pin mtimes: %v", err)
	}
	a := coretest.Start(t, coretest.Options{Root: root, Config: goldenConfig, Args: []string{"--no-mdns"},
		Plugins: coretest.Plugins(t, "system", "array", "disk", "docker", "vm", "ups", "gpu", "network", "shares", "unraid", "zfs")})

	// Every collector has collected (or tried), so no path serves its
	// before-the-first-collect default by chance.
	type state struct {
		Name        string    `json:"name"`
		ErrorCount  int       `json:"error_count"`
		LastSuccess time.Time `json:"last_success"`
		LastError   string    `json:"last_error"`
	}
	var waiting []string
	plugintest.Eventually(t, 60*time.Second, func() bool {
		var l struct {
			Collectors []state `json:"collectors"`
		}
		a.GetJSON(t, "/api/v1/collectors/status", &l)
		waiting = waiting[:0]
		for _, c := range l.Collectors {
			if c.LastSuccess.IsZero() && c.ErrorCount == 0 {
				waiting = append(waiting, c.Name+" ("+c.LastError+")")
			}
		}
		return len(l.Collectors) >= 26 && len(waiting) == 0
	}, "collectors never all collected; waiting for %v\n%s", &waiting, a)

	// Eleven plugin processes run: the core waits for their exits on the
	// poller, not with a thread blocked in waitid per plugin (11 such
	// threads here before, none after). The total thread count is not
	// asserted: the Go runtime adds threads under load as it likes.
	if waiting := threadsInWait(t, a.PID()); waiting > 0 {
		t.Errorf("towerd has %d threads blocked in wait with 11 plugins running, want 0", waiting)
	}

	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range goldenPaths {
		code, body := a.Do(t, "GET", "/api/v1"+p, "")
		if code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
			continue
		}
		got, err := maskPayload(body, goldenMasks[p])
		if err != nil {
			t.Errorf("GET %s: %v", p, err)
			continue
		}
		file := goldenFile(p)
		if *update {
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("GET %s: %v (go test ./core/e2e -run Golden -update writes it)", p, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("GET %s differs from %s (go test ./core/e2e -run Golden -update rewrites it):\n%s", p, file, lineDiff(string(want), string(got)))
		}
	}
}

// goldenFile is where the golden answer of the REST path p is kept:
// /array/parity-check/history → testdata/golden/array_parity-check_history.json.
func goldenFile(p string) string {
	return filepath.Join("testdata", "golden", strings.ReplaceAll(strings.Trim(p, "/"), "/", "_")+".json")
}

// maskPayload applies masks and returns the payload indented, keys sorted.
func maskPayload(body []byte, masks []mask) ([]byte, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	for _, m := range masks {
		if m.firstOnly {
			if l, ok := v.([]any); ok && len(l) > 1 {
				v = l[:1]
			}
			continue
		}
		var steps []string
		if m.at != "" {
			steps = strings.Split(m.at, ".")
		}
		if n := applyMask(v, steps, m.keys); n == 0 {
			return nil, fmt.Errorf("mask %q matched nothing: the fixture or the payload changed", m.at)
		}
	}
	v = maskKey(v, "timestamp")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<number>", not "\u003cnumber\u003e"
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return b.Bytes(), err
}

// applyMask walks steps from v and masks keys of the objects reached; it
// returns how many objects it masked.
func applyMask(v any, steps []string, keys []string) int {
	if len(steps) == 0 {
		obj, ok := v.(map[string]any)
		if !ok {
			return 0
		}
		for k, x := range obj {
			if keys == nil || slices.Contains(keys, k) {
				obj[k] = typeOf(x)
			}
		}
		return 1
	}
	step, rest, n := steps[0], steps[1:], 0
	switch x := v.(type) {
	case []any:
		key, want, sel := strings.Cut(step, "=")
		for _, e := range x {
			if !sel && step == "*" {
				n += applyMask(e, rest, keys)
			} else if obj, ok := e.(map[string]any); ok && sel && obj[key] == want {
				n += applyMask(e, rest, keys)
			}
		}
	case map[string]any:
		if step == "*" {
			for _, e := range x {
				n += applyMask(e, rest, keys)
			}
		} else if e, ok := x[step]; ok {
			n += applyMask(e, rest, keys)
		}
	}
	return n
}

// maskKey masks the field key in every object of v.
func maskKey(v any, key string) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = maskKey(x[i], key)
		}
	case map[string]any:
		for k, e := range x {
			if k == key {
				x[k] = typeOf(e)
			} else {
				x[k] = maskKey(e, key)
			}
		}
	}
	return v
}

// typeOf is what a masked value becomes: its JSON type.
func typeOf(v any) any {
	switch x := v.(type) {
	case nil:
		return "<null>"
	case bool:
		return "<boolean>"
	case float64:
		return "<number>"
	case string:
		return "<string>"
	case []any:
		return "<array>"
	case map[string]any:
		return "<object>"
	default:
		return fmt.Sprintf("<%T>", x)
	}
}

// lineDiff lists the lines of want missing from got (-) and the reverse
// (+): enough to see which fields moved.
func lineDiff(want, got string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := count(want), count(got)
	var out []string
	for l, n := range w {
		if g[l] < n {
			out = append(out, "- "+l)
		}
	}
	for l, n := range g {
		if w[l] < n {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], "…")
	}
	return strings.Join(out, "\n")
}

// threadsInWait counts pid's threads sleeping in the kernel's do_wait,
// i.e. blocked in wait4/waitid for a child.
func threadsInWait(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	n := 0
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread has exited since the Glob
		}
		if string(b) == "do_wait" {
			n++
		}
	}
	return n
}

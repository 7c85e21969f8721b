package storagetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

type envelope struct {
	Event     string          `json:"event"`
	Topic     string          `json:"topic"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// startTowerd runs bin/towerd with only the array, disk and shares plugins
// on the fixture tree, on a free loopback port, and returns the base URL.
func startTowerd(t *testing.T, args ...string) string {
	t.Helper()
	towerd := plugintest.Build(t, "github.com/towerd/towerd/cmd/towerd", "towerd")
	pdir := t.TempDir()
	for _, name := range []string{"array", "disk", "shares"} {
		b, err := os.ReadFile(plugintest.Build(t, "github.com/towerd/towerd/plugins/"+name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pdir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(towerd, append([]string{"--port", port, "--bind", "127.0.0.1", "--plugins-dir", pdir,
		"--config", filepath.Join(t.TempDir(), "towerd.json"), "--root", unraidtest.FixtureRoot(t), "--log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base := "http://127.0.0.1:" + port + "/api/v1"
	plugintest.Eventually(t, 20*time.Second, func() bool {
		r, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	}, "towerd did not answer /health")
	return base
}

// TestTowerdServesStorageEvents: a WebSocket client receives all three
// storage events with the fixture's values, array_status_update again at
// its interval, and the REST routes serve the same data from the cache.
func TestTowerdServesStorageEvents(t *testing.T) {
	base := startTowerd(t, "--interval-array", "5")
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	var (
		array       schema.Array
		disks       []schema.Disk
		shares      []schema.Share
		arrayTimes  []time.Time
		seenDisks   bool
		seenShares  bool
		deadline    = time.Now().Add(45 * time.Second)
		arrayEvents = 0
	)
	for (arrayEvents < 2 || !seenDisks || !seenShares) && time.Now().Before(deadline) {
		_ = ws.SetReadDeadline(deadline)
		var ev envelope
		if err := ws.ReadJSON(&ev); err != nil {
			t.Fatalf("read: %v", err)
		}
		if ev.Event != "update" {
			t.Errorf("event %q, want update", ev.Event)
		}
		var derr error
		switch ev.Topic {
		case schema.TopicArray:
			derr = json.Unmarshal(ev.Data, &array)
			// Skip events whose payload is the core's pre-collect default.
			if array.State != "unknown" {
				arrayEvents++
				arrayTimes = append(arrayTimes, time.Now())
			}
		case schema.TopicDisks:
			derr = json.Unmarshal(ev.Data, &disks)
			seenDisks = seenDisks || len(disks) > 0
		case schema.TopicShares:
			derr = json.Unmarshal(ev.Data, &shares)
			seenShares = seenShares || len(shares) > 0
		}
		if derr != nil {
			t.Fatalf("%s data: %v\n%s", ev.Topic, derr, ev.Data)
		}
	}
	if arrayEvents < 2 || !seenDisks || !seenShares {
		t.Fatalf("within 45 s: %d array events, disks %v, shares %v", arrayEvents, seenDisks, seenShares)
	}
	if gap := arrayTimes[len(arrayTimes)-1].Sub(arrayTimes[len(arrayTimes)-2]); gap < 3*time.Second || gap > 8*time.Second {
		t.Errorf("array events %v apart, want ~5 s (--interval-array 5)", gap)
	}

	// array_status_update
	a := array
	if a.State != "STARTED" || a.NumDisks != 6 || a.NumParityDisks != 2 || a.NumDataDisks != 4 ||
		a.ParityCheckStatus != "running" || !a.ParityCheckRunning || a.ParityCheckProgress != 40 || a.SyncPercent != 40 ||
		!a.ParityValid || a.TotalBytes != 19527272056*1024 || a.UsedPercent != 46.75 || a.SyncAction != "check P Q" {
		t.Errorf("array_status_update = %+v", a)
	}
	// disk_list_update
	byID := map[string]schema.Disk{}
	for _, d := range disks {
		byID[d.ID] = d
	}
	if len(disks) != 10 || byID["docker_vdisk"].Role != "docker_vdisk" || byID["log"].Role != "log" || byID["disk2"].SMARTStatus != "FAILED" || byID["disk2"].SMARTErrors != 12 ||
		byID["disk3"].SpinState != "standby" || byID["disk3"].SMARTStatus != "UNKNOWN" ||
		byID["parity"].SizeBytes != 8001563222016 || byID["disk1"].UsagePercent != 62.51 || byID["cache"].PowerOnHours != 15012 {
		t.Errorf("disk_list_update = %+v", disks)
	}
	// share_list_update
	var names []string
	for _, s := range shares {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "appdata,domains,isos,media,system" || shares[3].UsagePercent != 61.68 || shares[0].Path != "/mnt/user/appdata" {
		t.Errorf("share_list_update = %+v", shares)
	}

	// REST, served from the cache.
	tests := []struct {
		path   string
		status int
		check  func(body []byte) bool
	}{
		{"/array", 200, func(b []byte) bool { var x schema.Array; return json.Unmarshal(b, &x) == nil && x.State == "STARTED" }},
		{"/disks", 200, func(b []byte) bool { var x []schema.Disk; return json.Unmarshal(b, &x) == nil && len(x) == 10 }},
		{"/disks/disk2", 200, func(b []byte) bool { var x schema.Disk; return json.Unmarshal(b, &x) == nil && x.Device == "sde" }},
		{"/disks/sde", 200, func(b []byte) bool { var x schema.Disk; return json.Unmarshal(b, &x) == nil && x.ID == "disk2" }},
		{"/disks/nosuchdisk", 404, func(b []byte) bool {
			var x struct {
				Success *bool  `json:"success"`
				Message string `json:"message"`
			}
			return json.Unmarshal(b, &x) == nil && x.Success != nil && !*x.Success && x.Message != ""
		}},
		{"/shares", 200, func(b []byte) bool { var x []schema.Share; return json.Unmarshal(b, &x) == nil && len(x) == 5 }},
	}
	for _, tc := range tests {
		r, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != tc.status || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || !tc.check(body) {
			t.Errorf("GET %s: %d %s\n%s", tc.path, r.StatusCode, r.Header.Get("Content-Type"), body)
		}
	}

	// Parity action through REST: the fixture's check is running, so a
	// start is a conflict; stop needs /proc/mdcmd, which the fixture lacks.
	for _, tc := range []struct {
		path   string
		status int
	}{{"/array/parity-check/start", 409}, {"/array/parity-check/stop", 503}} {
		r, err := http.Post(base+tc.path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != tc.status {
			t.Errorf("POST %s: %d, want %d", tc.path, r.StatusCode, tc.status)
		}
	}
}

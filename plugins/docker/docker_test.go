package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

var hex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)

func TestValidContainerRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0123456789ab", true},
		{strings.Repeat("ab", 32), true},
		{"plex", true},
		{"my_app.v2-1", true},
		{"A1", true},
		{"", false},
		{"-plex", false},
		{".plex", false},
		{"_plex", false},
		{"/plex", false},
		{"plex/../../x", false},
		{"a b", false},
		{"plex;rm", false},
		{"name\n", false},
		{"ünï", false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
	} {
		if got := validContainerRef(tc.in); got != tc.want {
			t.Errorf("validContainerRef(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCPUPercent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur cpuSample
		want      float64
	}{
		{"half of one cpu on 2 cpus", cpuSample{container: 1e9, system: 100e9, cpus: 2}, cpuSample{container: 1.5e9, system: 102e9, cpus: 2}, 50},
		{"idle", cpuSample{container: 1e9, system: 100e9, cpus: 2}, cpuSample{container: 1e9, system: 102e9, cpus: 2}, 0},
		{"two full cpus", cpuSample{container: 0, system: 0, cpus: 2}, cpuSample{container: 2e9, system: 2e9, cpus: 2}, 200},
		{"counter reset after restart", cpuSample{container: 5e9, system: 100e9, cpus: 2}, cpuSample{container: 1e6, system: 102e9, cpus: 2}, 0},
		{"no system delta", cpuSample{container: 1, system: 100, cpus: 2}, cpuSample{container: 2, system: 100, cpus: 2}, 0},
		{"no cpu count", cpuSample{container: 1, system: 100, cpus: 0}, cpuSample{container: 2, system: 200, cpus: 0}, 0},
	} {
		if got := cpuPercent(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: cpuPercent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMemoryUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   container.MemoryStats
		want uint64
	}{
		{"cgroup v1 minus inactive file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 300, "inactive_file": 100}}, 700},
		{"cgroup v2 minus inactive file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 100}}, 900},
		{"no stats", container.MemoryStats{Usage: 1000}, 1000},
		{"cache larger than usage", container.MemoryStats{Usage: 10, Stats: map[string]uint64{"inactive_file": 100}}, 10},
	} {
		if got := memoryUsage(tc.in); got != tc.want {
			t.Errorf("%s: memoryUsage = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestConvertPorts(t *testing.T) {
	in := []container.PortSummary{
		{PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, // same binding on IPv6
		{PrivatePort: 53, Type: "udp"},
		{PrivatePort: 22},
	}
	got := convertPorts(in)
	want := []schema.Port{schema.NewPort(22, 0, "tcp"), schema.NewPort(53, 0, "udp"), schema.NewPort(80, 8080, "tcp")}
	if len(got) != len(want) {
		t.Fatalf("convertPorts = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("port %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if p := convertPorts(nil); p == nil || len(p) != 0 {
		t.Errorf("convertPorts(nil) = %#v, want empty non-nil", p)
	}
}

// TestDecodeStatsCaptured reads a stats answer captured from dockerd 20.10
// (cgroup v1) on this kind of machine.
func TestDecodeStatsCaptured(t *testing.T) {
	f, err := os.Open("testdata/stats-cgroupv1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := decodeStats(f)
	if err != nil {
		t.Fatal(err)
	}
	var item schema.Container
	applyStats(&item, st)
	if item.MemoryUsageBytes == 0 || item.MemoryUsageBytes > st.MemoryStats.Usage {
		t.Errorf("memory usage %d, raw usage %d", item.MemoryUsageBytes, st.MemoryStats.Usage)
	}
	if item.MemoryLimitBytes == 0 {
		t.Error("memory limit 0")
	}
	if item.NetworkRxBytes == 0 {
		t.Error("network rx 0, the capture has eth0 traffic")
	}
	s := cpuSampleOf(st)
	if s.container == 0 || s.system == 0 || s.cpus == 0 || s.rx == 0 || s.read.IsZero() {
		t.Errorf("cpu sample %+v has zeros", s)
	}
	if _, err := decodeStats(strings.NewReader("{")); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestEditAutostart(t *testing.T) {
	for _, tc := range []struct {
		old, name string
		enable    bool
		want      string
		changed   bool
	}{
		{"", "plex", true, "plex\n", true},
		{"plex 30\nsonarr\n", "radarr", true, "plex 30\nsonarr\nradarr\n", true},
		{"plex 30\nsonarr", "radarr", true, "plex 30\nsonarr\nradarr\n", true},
		{"plex 30\nsonarr\n", "plex", true, "plex 30\nsonarr\n", false},
		{"plex 30\nsonarr\nradarr\n", "sonarr", false, "plex 30\nradarr\n", true},
		{"plex 30\nsonarr\n", "plex", false, "sonarr\n", true},
		{"plex 30\n", "plex", false, "", true},
		{"plex 30\n", "sonarr", false, "plex 30\n", false},
		{"plexpass\n", "plex", true, "plexpass\nplex\n", true},
	} {
		got, changed := editAutostart([]byte(tc.old), tc.name, tc.enable)
		if string(got) != tc.want || changed != tc.changed {
			t.Errorf("edit(%q, %s, %v) = %q,%v; want %q,%v", tc.old, tc.name, tc.enable, got, changed, tc.want, tc.changed)
		}
	}
}

func TestNetRates(t *testing.T) {
	t0 := time.Now()
	prev := cpuSample{rx: 1000, tx: 500, read: t0}
	if rx, tx := netRates(prev, cpuSample{rx: 3000, tx: 1500, read: t0.Add(2 * time.Second)}); rx != 1000 || tx != 500 {
		t.Errorf("rates %v %v, want 1000 500", rx, tx)
	}
	if rx, tx := netRates(prev, cpuSample{rx: 10, tx: 10, read: t0.Add(time.Second)}); rx != 0 || tx != 0 {
		t.Errorf("after a counter reset: %v %v, want 0", rx, tx)
	}
	if rx, _ := netRates(prev, cpuSample{rx: 5000, read: t0}); rx != 0 {
		t.Errorf("no time between samples: %v", rx)
	}
}

func TestParseAutostart(t *testing.T) {
	got := parseAutostart([]byte("plex 30\nsonarr\n\n  # comment\nradarr  10  \n"))
	for _, n := range []string{"plex", "sonarr", "radarr"} {
		if !got[n] {
			t.Errorf("%s missing from %v", n, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %v, want 3 names", got)
	}
}

func FuzzDecodeStats(f *testing.F) {
	b, err := os.ReadFile("testdata/stats-cgroupv1.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"memory_stats":{"usage":5,"stats":{"inactive_file":9}},"networks":{"eth0":{"rx_bytes":1}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := decodeStats(bytes.NewReader(in))
		if err != nil {
			return
		}
		var item schema.Container
		applyStats(&item, st)
		if item.MemoryUsageBytes > st.MemoryStats.Usage {
			t.Fatalf("usage %d above raw %d", item.MemoryUsageBytes, st.MemoryStats.Usage)
		}
		if p := cpuPercent(cpuSample{}, cpuSampleOf(st)); p < 0 {
			t.Fatalf("negative cpu %v", p)
		}
	})
}

func FuzzParseAutostart(f *testing.F) {
	f.Add([]byte("plex 30\nsonarr\n"))
	f.Add([]byte("\n\n# x\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for n := range parseAutostart(in) {
			if n == "" || strings.ContainsAny(n, " \t\n") {
				t.Fatalf("bad name %q", n)
			}
		}
	})
}

// --- against the real Docker Engine, through the real plugin process ---

func startPlugin(t *testing.T, host string) *plugintest.Plugin {
	t.Helper()
	bin := plugintest.Build(t, ".", "docker")
	p := plugintest.Start(t, bin, "DOCKER_HOST="+host)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Configure(ctx, sdk.Config{Root: t.TempDir()}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

func collect(t *testing.T, p *plugintest.Plugin) map[string]schema.Container {
	t.Helper()
	var list []schema.Container
	p.CollectJSON(t, &list)
	m := map[string]schema.Container{}
	for _, c := range list {
		m[c.Name] = c
	}
	return m
}

func TestDescribe(t *testing.T) {
	p := plugintest.Start(t, plugintest.Build(t, ".", "docker"), "DOCKER_HOST=unix:///nonexistent/docker.sock")
	info, err := p.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "docker" || info.Topic != "container_list_update" || info.DefaultInterval != 10*time.Second {
		t.Errorf("Describe = %+v", info)
	}
	if strings.Join(info.Actions, ",") != "start,stop,restart,pause,unpause,autostart,remove" {
		t.Errorf("actions %v", info.Actions)
	}
}

func TestListFieldsAndStats(t *testing.T) {
	needEngine(t)
	pre := "tw-list-" + eng.run + "-"
	idRun := eng.create(t, spec{name: pre + "web", publish: true, state: "running"})
	idExit := eng.create(t, spec{name: pre + "created", state: "exited"})
	idPause := eng.create(t, spec{name: pre + "paused", state: "paused"})
	p := startPlugin(t, eng.host)

	var got map[string]schema.Container
	// Network counters and a CPU delta need the ping to run and two samples.
	plugintest.Eventually(t, 20*time.Second, func() bool {
		got = collect(t, p)
		w := got[pre+"web"]
		return w.NetworkRxBytes > 0 && w.NetworkTxBytes > 0 && w.CPUPercent > 0
	}, "running container never showed network traffic and CPU: %+v", got[pre+"web"])

	// Home Assistant reads the rates and lowercases state: both always sent.
	var raw []map[string]any
	if err := json.Unmarshal(p.CollectJSON(t, &[]schema.Container{}), &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw {
		_, rx := c["network_rx_bytes_per_sec"].(float64)
		_, tx := c["network_tx_bytes_per_sec"].(float64)
		if st, ok := c["state"].(string); !ok || st == "" || !rx || !tx {
			t.Errorf("container %v: state %v, rates %v/%v", c["name"], c["state"], c["network_rx_bytes_per_sec"], c["network_tx_bytes_per_sec"])
		}
	}

	web := got[pre+"web"]
	if web.ID != idRun[:12] || !hex12.MatchString(web.ID) {
		t.Errorf("id = %q, want %q", web.ID, idRun[:12])
	}
	if web.Image != testImage || web.State != "running" || !strings.HasPrefix(web.Status, "Up") {
		t.Errorf("web = %+v", web)
	}
	if web.MemoryUsageBytes == 0 || web.MemoryLimitBytes == 0 || web.MemoryUsageBytes > web.MemoryLimitBytes {
		t.Errorf("memory %d / %d", web.MemoryUsageBytes, web.MemoryLimitBytes)
	}
	if !strings.Contains(web.MemoryDisplay, " / ") || !strings.Contains(web.MemoryDisplay, "iB") {
		t.Errorf("memory_display %q", web.MemoryDisplay)
	}
	if web.CPUPercent <= 0 || web.CPUPercent > 200 {
		t.Errorf("cpu_percent %v", web.CPUPercent)
	}
	var tcp, udp bool
	for _, pt := range web.Ports {
		switch {
		case pt.ContainerPort == 80 && pt.Protocol == "tcp" && pt.HostPort > 0 && pt.PublicPort == pt.HostPort && pt.PrivatePort == 80 && pt.Type == "tcp":
			tcp = true
		case pt.ContainerPort == 53 && pt.Protocol == "udp" && pt.HostPort == 0:
			udp = true
		}
	}
	if !tcp || !udp || len(web.Ports) != 2 {
		t.Errorf("ports = %+v, want 80/tcp published and 53/udp exposed", web.Ports)
	}

	ex := got[pre+"created"]
	if ex.ID != idExit[:12] || ex.State != "created" || ex.CPUPercent != 0 || ex.MemoryUsageBytes != 0 || ex.NetworkRxBytes != 0 {
		t.Errorf("created container = %+v", ex)
	}
	if ex.Ports == nil {
		t.Error("ports nil for a container without ports")
	}
	pa := got[pre+"paused"]
	if pa.ID != idPause[:12] || pa.State != "paused" || pa.MemoryLimitBytes == 0 {
		t.Errorf("paused container = %+v", pa)
	}
}

func TestActions(t *testing.T) {
	needEngine(t)
	name := "tw-act-" + eng.run
	id := eng.create(t, spec{name: name, state: "running"})
	p := startPlugin(t, eng.host)
	ctx := context.Background()

	for _, tc := range []struct {
		action, target, want string
	}{
		{"stop", id[:12], "exited"},
		{"start", id, "running"},
		{"pause", name, "paused"},
		{"unpause", id[:12], "running"},
		{"restart", name, "running"},
		{"stop", name, "exited"},
		{"restart", id[:12], "running"},
	} {
		before := startedAt(t, id)
		msg, err := p.Act(ctx, sdk.Action{Name: tc.action, Target: tc.target})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.action, tc.target, err)
		}
		if !strings.Contains(msg, tc.action) {
			t.Errorf("%s: message %q", tc.action, msg)
		}
		if got := eng.state(t, id); got != tc.want {
			t.Fatalf("after %s: daemon says %q, want %q", tc.action, got, tc.want)
		}
		if tc.action == "restart" && startedAt(t, id) == before {
			t.Errorf("restart did not restart (StartedAt unchanged)")
		}
		if got := collect(t, p)[name].State; got != tc.want {
			t.Errorf("after %s: plugin reports %q, want %q", tc.action, got, tc.want)
		}
	}
}

func startedAt(t *testing.T, id string) string {
	r, err := eng.cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Container.State.StartedAt
}

func TestActErrors(t *testing.T) {
	needEngine(t)
	name := "tw-err-" + eng.run
	eng.create(t, spec{name: name, state: "exited"})
	p := startPlugin(t, eng.host)
	for _, tc := range []struct {
		action, target string
		params         map[string]string
		want           error
	}{
		{"explode", name, nil, sdk.ErrUnsupported},
		{"", name, nil, sdk.ErrUnsupported},
		{"start", "", nil, sdk.ErrInvalidArgument},
		{"start", "../../containers", nil, sdk.ErrInvalidArgument},
		{"start", "x y", nil, sdk.ErrInvalidArgument},
		{"stop", name, map[string]string{"timeout": "forever"}, sdk.ErrInvalidArgument},
		{"start", "0123456789ab", nil, sdk.ErrNotFound},
		{"start", "tw-no-such-container", nil, sdk.ErrNotFound},
		{"unpause", name, nil, sdk.ErrConflict}, // not running
		{"autostart", name, nil, sdk.ErrInvalidArgument},
		{"autostart", name, map[string]string{"enabled": "maybe"}, sdk.ErrInvalidArgument},
		{"autostart", name, map[string]string{"enabled": "true", "timeout": "5"}, sdk.ErrInvalidArgument},
		{"autostart", "tw-no-such-container", map[string]string{"enabled": "true"}, sdk.ErrNotFound},
		{"autostart", name, map[string]string{"enabled": "true"}, sdk.ErrUnavailable}, // no var/lib/docker under the root
		{"remove", name, nil, sdk.ErrInvalidArgument},
		{"remove", name, map[string]string{"confirm": "false"}, sdk.ErrInvalidArgument},
		{"remove", name, map[string]string{"confirm": "true", "remove_image": "perhaps"}, sdk.ErrInvalidArgument},
		{"remove", "tw-no-such-container", map[string]string{"confirm": "true"}, sdk.ErrNotFound},
	} {
		_, err := p.Act(context.Background(), sdk.Action{Name: tc.action, Target: tc.target, Params: tc.params})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s %q: err = %v, want %v", tc.action, tc.target, err, tc.want)
		}
	}
}

// TestContainerGoneMidCollect removes a container between the list call and
// the stats/inspect calls: it is skipped, not an error.
func TestContainerGoneMidCollect(t *testing.T) {
	needEngine(t)
	keep := eng.create(t, spec{name: "tw-keep-" + eng.run, state: "running"})
	gone := eng.create(t, spec{name: "tw-gone-" + eng.run, state: "running"})
	ctx := context.Background()
	list, err := eng.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", testLabel+"="+eng.run)})
	if err != nil {
		t.Fatal(err)
	}
	eng.remove(gone)
	c := newCollector()
	c.log = hclog.NewNullLogger()
	d := c.fetchDetails(ctx, eng.cli, list.Items)
	var sawKeep, sawGone bool
	for i, s := range list.Items {
		switch s.ID {
		case keep:
			sawKeep = true
			if d[i].gone || d[i].stats == nil {
				t.Errorf("kept container: %+v", d[i])
			}
		case gone:
			sawGone = true
			if !d[i].gone {
				t.Errorf("removed container not marked gone: %+v", d[i])
			}
		}
	}
	if !sawKeep || !sawGone {
		t.Fatalf("list did not have both containers")
	}
}

// TestNoDaemonThenRecovery: with nothing at the socket the plugin answers
// an empty list; once the socket leads to a daemon (a unix-socket relay to
// the test engine) it lists containers again without a restart.
func TestNoDaemonThenRecovery(t *testing.T) {
	needEngine(t)
	name := "tw-rec-" + eng.run
	eng.create(t, spec{name: name, state: "running"})
	dir, err := os.MkdirTemp("", "twd-relay-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "relay.sock")
	p := startPlugin(t, "unix://"+sock)
	for range 3 {
		if got := collect(t, p); len(got) != 0 {
			t.Fatalf("no daemon: got %d containers", len(got))
		}
	}
	stop := relay(t, sock, strings.TrimPrefix(eng.host, "unix://"))
	defer stop()
	plugintest.Eventually(t, 15*time.Second, func() bool { _, ok := collect(t, p)[name]; return ok },
		"plugin did not recover after the daemon appeared")
}

// relay forwards connections on sock to the daemon socket target. The
// returned stop closes the listener and every relayed connection.
func relay(t *testing.T, sock, target string) func() {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("unix", target)
			if err != nil {
				a.Close()
				continue
			}
			track(a)
			track(b)
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(b, a); b.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(a, b); a.Close() }()
		}
	}()
	return func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

// TestLogsOutageOnce checks in-process that an unreachable daemon is logged
// once, not every tick, and the recovery once.
func TestLogsOutageOnce(t *testing.T) {
	needEngine(t)
	var buf plugintest.SyncBuffer
	c := newCollector()
	c.log = hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true})
	ctx := context.Background()
	if err := c.Configure(ctx, sdk.Config{Options: map[string]string{"host": "unix:///nonexistent/docker.sock"}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		v, err := c.Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l := v.([]schema.Container); l == nil || len(l) != 0 {
			t.Fatalf("got %#v, want empty non-nil list", l)
		}
	}
	if n := strings.Count(buf.String(), "source unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want 1:\n%s", n, buf.String())
	}
	if err := c.Configure(ctx, sdk.Config{Options: map[string]string{"host": eng.host}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Collect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "source available again"); n != 1 {
		t.Errorf("recovery logged %d times, want 1:\n%s", n, buf.String())
	}
	if err := c.Configure(ctx, sdk.Config{Options: map[string]string{"stats_concurrency": "0"}}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("stats_concurrency 0: %v", err)
	}
}

// TestAutostartAndRemove drives the Unraid controls against the real
// engine: autostart edits <root>/var/lib/docker/unraid-autostart keeping
// the order of the other lines, and the next collect reports it; remove
// needs confirm, force-removes a running container and, with
// remove_image, its image.
func TestAutostartAndRemove(t *testing.T) {
	needEngine(t)
	root := t.TempDir()
	file := filepath.Join(root, "var/lib/docker/unraid-autostart")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("plex 30\nsonarr\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := "tw-auto-" + eng.run
	id := eng.create(t, spec{name: name, state: "running"})
	p := plugintest.Start(t, plugintest.Build(t, ".", "docker"), "DOCKER_HOST="+eng.host)
	ctx := context.Background()
	if err := p.Configure(ctx, sdk.Config{Root: root}); err != nil {
		t.Fatal(err)
	}
	fileIs := func(want string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil || string(b) != want {
			t.Fatalf("unraid-autostart = %q (%v), want %q", b, err, want)
		}
	}
	if collect(t, p)[name].Autostart {
		t.Error("autostart true before it was enabled")
	}
	msg, err := p.Act(ctx, sdk.Action{Name: "autostart", Target: id[:12], Params: map[string]string{"enabled": "true", "confirm": "true"}})
	if err != nil || !strings.Contains(msg, "enabled") {
		t.Fatalf("enable: %q %v", msg, err)
	}
	fileIs("plex 30\nsonarr\n" + name + "\n")
	if !collect(t, p)[name].Autostart {
		t.Error("collect after enabling: autostart false")
	}
	if _, err := p.Act(ctx, sdk.Action{Name: "autostart", Target: name, Params: map[string]string{"enabled": "true"}}); err != nil {
		t.Fatal(err)
	}
	fileIs("plex 30\nsonarr\n" + name + "\n") // enabling twice adds no second line
	if _, err := p.Act(ctx, sdk.Action{Name: "autostart", Target: name, Params: map[string]string{"enabled": "false"}}); err != nil {
		t.Fatal(err)
	}
	fileIs("plex 30\nsonarr\n")
	if collect(t, p)[name].Autostart {
		t.Error("collect after disabling: autostart true")
	}

	// remove: a running container, then one made from its own tag with
	// remove_image (only that tag goes; the shared test image stays).
	if _, err := p.Act(ctx, sdk.Action{Name: "remove", Target: name}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("remove without confirm: %v", err)
	}
	if msg, err := p.Act(ctx, sdk.Action{Name: "remove", Target: name, Params: map[string]string{"confirm": "true"}}); err != nil || !strings.Contains(msg, "removed") {
		t.Fatalf("remove: %q %v", msg, err)
	}
	if _, err := eng.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container still there after remove: %v", err)
	}
	tag := "towerd-test/rmme:" + eng.run
	if _, err := eng.cli.ImageTag(ctx, client.ImageTagOptions{Source: testImage, Target: tag}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = eng.cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{}) })
	name2 := name + "-img"
	eng.create(t, spec{name: name2, state: "exited", image: tag})
	msg, err = p.Act(ctx, sdk.Action{Name: "remove", Target: name2, Params: map[string]string{"confirm": "true", "remove_image": "true"}})
	if err != nil || !strings.Contains(msg, "with image "+tag) {
		t.Fatalf("remove with image: %q %v", msg, err)
	}
	if _, err := eng.cli.ImageInspect(ctx, tag); !cerrdefs.IsNotFound(err) {
		t.Errorf("image tag %s still there: %v", tag, err)
	}
	if _, err := eng.cli.ImageInspect(ctx, testImage); err != nil {
		t.Errorf("the shared test image went too: %v", err)
	}
	if _, ok := collect(t, p)[name]; ok {
		t.Error("removed container still listed")
	}
}

// Editing never loses or reorders other lines, and enabling then
// disabling a name leaves no line for it.
func FuzzEditAutostart(f *testing.F) {
	f.Add("plex 30\nsonarr\n", "radarr")
	f.Add("", "a")
	f.Add("a\n\nb\n", "a")
	f.Fuzz(func(t *testing.T, old, name string) {
		if !validContainerRef(name) {
			return
		}
		on, _ := editAutostart([]byte(old), name, true)
		if !parseAutostart(on)[name] {
			t.Fatalf("enable %q in %q: %q", name, old, on)
		}
		off, _ := editAutostart(on, name, false)
		if parseAutostart(off)[name] {
			t.Fatalf("disable %q: %q", name, off)
		}
		for other := range parseAutostart([]byte(old)) {
			if other != name && !parseAutostart(off)[other] {
				t.Fatalf("lost %q: %q -> %q", other, old, off)
			}
		}
	})
}

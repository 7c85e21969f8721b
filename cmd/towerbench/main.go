// Command towerbench measures a built towerd: steady-state memory, CPU and
// wakeups of the core and every plugin with no client, the same with ten
// clients, how fast a state file change reaches a client, WebSocket
// fan-out latency, REST throughput, plugin restart time and interval
// accuracy. It runs the real binaries that
// `make build` produced (bin/towerd and everything in plugins.d) on the
// fixture Unraid tree, on a free loopback port, prints a table and writes
// the figures as JSON. `make bench` runs it; see bench/README.md.
//
// It exits non-zero if a plugin does not start, a restarted plugin sends
// no event, or a WebSocket client is disconnected.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/towerd/towerd/sdk"
)

type options struct {
	towerd, plugins, root, echo, out string
	echoCount, clients, restClients  int
	steady, rest, burst              time.Duration
	logLevel                         string
	quick                            bool
	idle, idleWindow, idleMax        time.Duration
	minGC, freshChanges              int
	freshTimeout                     time.Duration
	env                              envList
}

// envList collects repeated --env flags.
type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.towerd, "towerd", "bin/towerd", "towerd binary to measure")
	flag.StringVar(&o.plugins, "plugins", "plugins.d", "directory of plugin binaries; every executable in it runs")
	flag.StringVar(&o.root, "root", "testdata/unraid", "fixture Unraid tree (--root of towerd)")
	flag.StringVar(&o.echo, "echo", "bin/benchecho", "echo test plugin (core/internal/testplugin) for the fan-out burst; empty skips the burst")
	flag.IntVar(&o.echoCount, "burst-plugins", 20, "echo plugins enabled together for the fan-out burst")
	flag.DurationVar(&o.burst, "burst", 12*time.Second, "how long the echo plugins run")
	flag.IntVar(&o.clients, "clients", 10, "WebSocket clients (the hub's limit is 10)")
	flag.IntVar(&o.restClients, "rest-clients", 10, "concurrent keep-alive REST clients")
	flag.DurationVar(&o.rest, "rest", 10*time.Second, "REST load duration")
	flag.DurationVar(&o.steady, "steady", 120*time.Second, "steady run: RSS is read at half of it, CPU is measured over the second half, intervals over all of it")
	flag.StringVar(&o.out, "out", "bench/results.json", "JSON results file")
	flag.StringVar(&o.logLevel, "log-level", "info", "towerd --log-level")
	flag.DurationVar(&o.idle, "idle", 5*time.Minute, "idle phase (no clients): the agent runs at least this long before the idle window")
	flag.IntVar(&o.minGC, "min-gc", 3, "idle phase: and until every process has completed this many GC cycles")
	flag.DurationVar(&o.idleMax, "idle-max", 15*time.Minute, "idle phase: give up waiting for -min-gc after this long")
	flag.DurationVar(&o.idleWindow, "idle-window", 90*time.Second, "idle phase: CPU and wakeups are measured over this window")
	flag.IntVar(&o.freshChanges, "fresh-changes", 20, "freshness: changes per state file and way of writing")
	flag.DurationVar(&o.freshTimeout, "fresh-timeout", 15*time.Second, "freshness: a change not seen within this is counted missed")
	flag.Var(&o.env, "env", "KEY=VALUE for towerd's environment (which plugins inherit), e.g. GOMAXPROCS=1; repeatable")
	flag.BoolVar(&o.quick, "quick", false, "short run for development: idle phase 20 s + 30 s window without waiting for GC, 5 freshness changes")
	flag.Parse()
	if o.quick {
		o.idle, o.minGC, o.idleWindow, o.freshChanges = 20*time.Second, 0, 30*time.Second, 5
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if res != nil {
		printTable(os.Stdout, res)
		if o.out != "" {
			if werr := writeJSON(o.out, res); werr != nil {
				fmt.Fprintln(os.Stderr, "towerbench:", werr)
			} else {
				fmt.Printf("\nresults written to %s\n", o.out)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "towerbench: FAIL:", err)
		os.Exit(1)
	}
}

// Results is the JSON file's content.
type Results struct {
	Time          time.Time          `json:"time"`
	Quick         bool               `json:"quick"`
	Idle          *IdleResult        `json:"idle"`
	Freshness     []Freshness        `json:"freshness"`
	Host          HostInfo           `json:"host"`
	Plugins       []string           `json:"plugins"`
	Processes     []ProcStat         `json:"processes"`
	Total         ProcStat           `json:"total"`
	CPUWindowSecs float64            `json:"cpu_window_seconds"`
	FanOut        map[string]Latency `json:"fanout"`
	REST          RESTResult         `json:"rest"`
	Restarts      []Restart          `json:"restarts"`
	Intervals     []IntervalStat     `json:"intervals"`
	Disconnects   int                `json:"websocket_disconnects"`
	Failures      []string           `json:"failures"`
}

// HostInfo says how busy the machine was: other work shares its cores.
type HostInfo struct {
	CPUs        int     `json:"cpus"`
	LoadStart   float64 `json:"load1_start"`
	LoadEnd     float64 `json:"load1_end"`
	BusyPercent float64 `json:"host_busy_percent_during_cpu_window"`
}

type agentRun struct {
	o         options
	started   time.Time // when towerd was started
	root      string    // the scratch copy of the fixture tree (freshness edits it)
	gcDir     string    // where processes report GC cycles (sdk.GCStatsEnv)
	installed int64     // bytes of bin/towerd and the plugins
	dir       string
	url       string
	addr      string
	cmd       *exec.Cmd
	exited    chan struct{}
	log       *os.File
	plugins   []string // real plugins, by name
	echoes    []string
}

func run(ctx context.Context, o options) (*Results, error) {
	res := &Results{Time: time.Now(), Quick: o.quick, FanOut: map[string]Latency{}, Host: HostInfo{CPUs: numCPU(), LoadStart: load1()}}
	a, err := startAgent(o)
	if err != nil {
		return nil, err
	}
	defer a.stop()
	res.Plugins = a.plugins
	fmt.Printf("towerd on %s with plugins %v (log %s)\n", a.url, a.plugins, a.log.Name())

	// Every real plugin must be running; each collects once at start. A
	// bundle is watched through one of its collectors.
	reps, err := a.representatives(ctx, 30*time.Second)
	if err != nil {
		return res, err
	}
	names := make([]string, len(a.plugins))
	for i, p := range a.plugins {
		names[i] = reps[p]
	}
	pids, err := a.waitRunning(ctx, names, 30*time.Second)
	if err != nil {
		return res, err
	}
	topics, intervals, err := a.collectorInfo(names)
	if err != nil {
		return res, err
	}
	procs := map[string]int{"towerd": a.cmd.Process.Pid}
	for _, p := range a.plugins {
		procs[p] = pids[reps[p]]
	}

	// Steady state with no client: what the agent costs all day.
	if res.Idle, err = a.idlePhase(ctx, procs); err != nil {
		return res, err
	}

	clients, err := dialAll(a.addr, o.clients)
	if err != nil {
		return res, err
	}
	defer closeAll(clients)

	// Steady run at the default intervals.
	steadyStart := time.Now()
	fmt.Printf("steady run %v: RSS at %v, CPU over the last %v, intervals over all of it\n", o.steady, o.steady/2, o.steady/2)
	if !sleepCtx(ctx, o.steady/2) {
		return res, ctx.Err()
	}
	mem := map[string]ProcStat{}
	for name, pid := range procs {
		st, err := readMem(pid)
		if err != nil {
			return res, fmt.Errorf("%s (pid %d): %w", name, pid, err)
		}
		mem[name] = st
	}
	cpu0, host0 := cpuTimes(procs), hostCPU()
	t0 := time.Now()
	if !sleepCtx(ctx, o.steady-o.steady/2) {
		return res, ctx.Err()
	}
	cpu1, host1 := cpuTimes(procs), hostCPU()
	window := time.Since(t0)
	steadyEnd := time.Now()
	res.CPUWindowSecs = window.Seconds()
	res.Host.BusyPercent = host1.busySince(host0)
	for _, name := range sortedNames(procs) {
		st := mem[name]
		st.Name, st.PID = name, procs[name]
		st.CPUSeconds = (cpu1.sched[name] - cpu0.sched[name]).Seconds()
		st.CPUTickSeconds = (cpu1.ticks[name] - cpu0.ticks[name]).Seconds()
		st.CPUPercent = 100 * st.CPUSeconds / window.Seconds()
		res.Processes = append(res.Processes, st)
		res.Total.add(st)
	}
	res.Total.Name = "total"
	res.Total.CPUPercent = 100 * res.Total.CPUSeconds / window.Seconds()

	steadyEvents := eventsBetween(clients, steadyStart, steadyEnd)
	res.FanOut["steady"] = latencies(steadyEvents, nil)
	res.Intervals = intervalStats(clients[0].between(steadyStart, steadyEnd), topics, intervals)

	// Freshness: state file changes reach a client at once (the core
	// watches what the collectors declare), not at the next tick.
	fmt.Printf("freshness: %d changes per state file, in place and by rename\n", o.freshChanges)
	if res.Freshness, err = a.freshPhase(ctx, clients[0]); err != nil {
		return res, err
	}
	for _, f := range res.Freshness {
		if f.Missed > 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("freshness %s: %d of %d changes not seen within %v", f.Case, f.Missed, f.Changes, o.freshTimeout))
		}
	}

	// Fan-out burst: many echo plugins enabled at once collect together,
	// then every 5 s, within milliseconds of each other.
	if len(a.echoes) > 0 {
		fmt.Printf("fan-out burst: %d echo plugins for %v\n", len(a.echoes), o.burst)
		bStart := time.Now()
		if err := a.setEnabled(a.echoes, true); err != nil {
			return res, err
		}
		sleepCtx(ctx, o.burst)
		if err := a.setEnabled(a.echoes, false); err != nil {
			return res, err
		}
		echo := map[string]bool{}
		for _, e := range a.echoes {
			echo[e+"_update"] = true
		}
		// The first collect of each echo plugin races 20 process starts for
		// the CPU; the burst measured is the later rounds, aligned at 5 s.
		res.FanOut["burst"] = latencies(eventsBetween(clients, bStart.Add(3*time.Second), time.Now()), echo)
	}

	fmt.Printf("REST: %d clients, %v, GET /api/v1/system\n", o.restClients, o.rest)
	res.REST = restLoad(ctx, a.url+"/api/v1/system", o.restClients, o.rest)

	fmt.Println("restart: kill -9 each plugin in turn")
	for _, name := range names {
		r := a.restart(ctx, name, topics[name], clients)
		res.Restarts = append(res.Restarts, r)
		if r.Error != "" {
			res.Failures = append(res.Failures, "restart "+name+": "+r.Error)
		}
	}

	for _, c := range clients {
		if closed, err := c.closed(); closed {
			res.Disconnects++
			res.Failures = append(res.Failures, fmt.Sprintf("websocket client %d disconnected: %v", c.id, err))
		}
	}
	res.Host.LoadEnd = load1()
	if len(res.Failures) > 0 {
		return res, errors.New(strings.Join(res.Failures, "; "))
	}
	return res, nil
}

// startAgent lays out a plugins directory (every executable of o.plugins,
// plus the echo plugins, disabled), and starts towerd on a free port.
func startAgent(o options) (*agentRun, error) {
	dir, err := os.MkdirTemp("", "towerbench-")
	if err != nil {
		return nil, err
	}
	a := &agentRun{o: o, dir: dir}
	pdir := filepath.Join(dir, "plugins.d")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(o.plugins)
	if err != nil {
		return nil, fmt.Errorf("plugins dir: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		if err := copyFile(filepath.Join(o.plugins, e.Name()), filepath.Join(pdir, e.Name())); err != nil {
			return nil, err
		}
		a.plugins = append(a.plugins, e.Name())
	}
	if len(a.plugins) == 0 {
		return nil, fmt.Errorf("no plugin executables in %s (run make build)", o.plugins)
	}
	if o.echo != "" && o.echoCount > 0 {
		for i := 1; i <= o.echoCount; i++ {
			n := "echo" + strconv.Itoa(i)
			if err := copyFile(o.echo, filepath.Join(pdir, n)); err != nil {
				return nil, fmt.Errorf("echo plugin: %w", err)
			}
			a.echoes = append(a.echoes, n)
		}
	}
	// A scratch copy of the fixture tree: the freshness phase edits it.
	a.root = filepath.Join(dir, "root")
	if err := os.CopyFS(a.root, os.DirFS(o.root)); err != nil {
		return nil, fmt.Errorf("copy %s: %w", o.root, err)
	}
	a.gcDir = filepath.Join(dir, "gc")
	if err := os.MkdirAll(a.gcDir, 0o755); err != nil {
		return nil, err
	}
	a.installed = installedBytes(o.towerd, o.plugins)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	a.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	a.url = "http://" + a.addr
	if a.log, err = os.Create(filepath.Join(dir, "towerd.log")); err != nil {
		return nil, err
	}
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--plugins-dir", pdir,
		"--config", filepath.Join(dir, "towerd.json"), "--root", a.root, "--log-level", o.logLevel}
	if len(a.echoes) > 0 {
		args = append(args, "--disable-collectors", strings.Join(a.echoes, ","))
	}
	a.cmd = exec.Command(o.towerd, args...)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	// Every process reports its GC cycles (plugins inherit the variable).
	a.cmd.Env = append(append(os.Environ(), o.env...), sdk.GCStatsEnv+"="+a.gcDir)
	a.started = time.Now()
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start towerd: %w", err)
	}
	a.exited = make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(a.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(a.url + "/api/v1/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		select {
		case <-a.exited:
			return nil, fmt.Errorf("towerd exited during start; log: %s", a.log.Name())
		default:
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("towerd did not answer /api/v1/health within 15s; log: %s", a.log.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends towerd with SIGTERM (SIGKILL after 10 s) and removes the
// scratch directory unless towerd misbehaved.
func (a *agentRun) stop() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
		_ = os.RemoveAll(a.dir)
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
		fmt.Fprintf(os.Stderr, "towerbench: towerd did not stop within 10s of SIGTERM; log kept in %s\n", a.log.Name())
	}
	a.cmd = nil
}

type collector struct {
	Name            string `json:"name"`
	Status          string `json:"status"`
	Topic           string `json:"topic"`
	PID             int    `json:"pid"`
	IntervalSeconds int    `json:"interval_seconds"`
	LastError       string `json:"last_error"`
}

func (a *agentRun) collector(name string) (collector, error) {
	var body struct {
		Collector collector `json:"collector"`
	}
	resp, err := http.Get(a.url + "/api/v1/collectors/" + name)
	if err != nil {
		return body.Collector, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return body.Collector, fmt.Errorf("GET collectors/%s: %s: %s", name, resp.Status, b)
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	return body.Collector, err
}

// representatives maps each plugin file to the collector it is watched
// through: its own name for a single-collector plugin, and for a bundle
// (whose collectors have other names) the first collector whose process
// runs that file.
func (a *agentRun) representatives(ctx context.Context, timeout time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(timeout)
	reps := map[string]string{}
	for {
		var body struct {
			Collectors []collector `json:"collectors"`
		}
		if resp, err := http.Get(a.url + "/api/v1/collectors"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
		}
		for _, c := range body.Collectors {
			if c.PID <= 0 {
				continue
			}
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.PID))
			if file := filepath.Base(exe); err == nil && (reps[file] == "" || c.Name == file) {
				reps[file] = c.Name
			}
		}
		missing := ""
		for _, p := range a.plugins {
			if reps[p] == "" {
				missing = p
			}
		}
		if missing == "" {
			return reps, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return reps, fmt.Errorf("plugin %s runs no collector after %v; log: %s", missing, timeout, a.log.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRunning waits until every named collector runs and has produced
// data, and returns their PIDs.
func (a *agentRun) waitRunning(ctx context.Context, names []string, timeout time.Duration) (map[string]int, error) {
	deadline := time.Now().Add(timeout)
	pids := map[string]int{}
	for _, n := range names {
		for {
			c, err := a.collector(n)
			if err == nil && c.Status == "running" && c.PID > 0 {
				if resp, err := http.Get(a.url + "/api/v1/collectors/" + n + "/data"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						pids[n] = c.PID
						break
					}
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return pids, fmt.Errorf("plugin %s did not start and collect within %v: status %q, last error %q; log: %s",
					n, timeout, c.Status, c.LastError, a.log.Name())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return pids, nil
}

func (a *agentRun) collectorInfo(names []string) (topics map[string]string, intervals map[string]time.Duration, err error) {
	topics, intervals = map[string]string{}, map[string]time.Duration{}
	for _, n := range names {
		c, err := a.collector(n)
		if err != nil {
			return nil, nil, err
		}
		topics[n] = c.Topic
		intervals[c.Topic] = time.Duration(c.IntervalSeconds) * time.Second
	}
	return topics, intervals, nil
}

func (a *agentRun) setEnabled(names []string, on bool) error {
	verb := "disable"
	if on {
		verb = "enable"
	}
	errc := make(chan error, len(names))
	for _, n := range names {
		go func() {
			resp, err := http.Post(a.url+"/api/v1/collectors/"+n+"/"+verb, "application/json", nil)
			if err == nil {
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%s %s: %s", verb, n, resp.Status)
				}
				resp.Body.Close()
			}
			errc <- err
		}()
	}
	var errs []error
	for range names {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// Restart is one kill -9 and the recovery from it.
type Restart struct {
	Plugin        string  `json:"plugin"`
	OldPID        int     `json:"old_pid"`
	NewPID        int     `json:"new_pid"`
	ToEventMillis float64 `json:"kill_to_event_ms"`
	Error         string  `json:"error,omitempty"`
}

// restart kills the plugin and times the next event of its topic, then
// waits until the collector reports running again.
func (a *agentRun) restart(ctx context.Context, name, topic string, clients []*wsClient) Restart {
	r := Restart{Plugin: name}
	c, err := a.collector(name)
	if err != nil || c.PID <= 0 {
		r.Error = fmt.Sprintf("no pid: %v", err)
		return r
	}
	r.OldPID = c.PID
	killed := time.Now()
	if err := syscall.Kill(c.PID, syscall.SIGKILL); err != nil {
		r.Error = "kill: " + err.Error()
		return r
	}
	ev, ok := clients[0].waitTopic(ctx, topic, killed, 15*time.Second)
	if !ok {
		r.Error = "no event within 15s of kill -9"
		return r
	}
	r.ToEventMillis = float64(ev.Stamp.Sub(killed).Microseconds()) / 1000
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := a.collector(name); err == nil && c.Status == "running" && c.PID > 0 && c.PID != r.OldPID {
			r.NewPID = c.PID
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Error = "collector not running again within 15s"
	return r
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	// towerd first, then the plugins by name.
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "towerd") != (out[j] == "towerd") {
			return out[i] == "towerd"
		}
		return out[i] < out[j]
	})
	return out
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

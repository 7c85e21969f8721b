// Package agent wires the core together: it reads the config, starts the
// enabled plugins under the supervisor, schedules their collects, feeds the
// bus, and serves the REST API and WebSocket hub. It implements api.Control,
// turning collector management requests into supervisor and scheduler
// actions and persisting them.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/core/httpguard"
	"github.com/towerd/towerd/core/hub"
	"github.com/towerd/towerd/core/mqtt"
	"github.com/towerd/towerd/core/scheduler"
	"github.com/towerd/towerd/core/supervisor"
	"github.com/towerd/towerd/core/watch"
	"github.com/towerd/towerd/sdk"
)

// Options configure an Agent.
type Options struct {
	Addr       string // host:port to listen on
	PluginsDir string
	Config     *config.Store
	Root       string // Unraid state root passed to plugins
	Logger     hclog.Logger
	// Disabled and Intervals override the config file for this run only
	// (from flags); a change made through the API replaces them.
	Disabled  map[string]bool
	Intervals map[string]time.Duration
	// Supervisor tunes plugin supervision; Dir and Logger are set here.
	Supervisor supervisor.Options
	// Guard is the HTTP security and limits layer (token, CORS, limits).
	Guard httpguard.Options
	// DebugRuntime mounts GET /api/v1/debug/runtime (see core/diag).
	DebugRuntime bool
	MQTT         MQTTOptions // the MQTT output (mqtt.go); off unless MQTT.Enabled
	// MDNS and MCP are the zeroconf announcement and the MCP server
	// (mdns.go, mcp.go).
	MDNS MDNSOptions
	MCP  MCPOptions
}

// Agent is a running towerd.
type Agent struct {
	opts   Options
	log    hclog.Logger
	cfg    *config.Store
	bus    *bus.Bus
	hub    *hub.Hub
	sup    *supervisor.Supervisor
	sched  *scheduler.Scheduler
	api    *api.Server
	server *http.Server
	guard  *httpguard.Guard
	mqtt   atomic.Pointer[mqtt.Output] // nil while MQTT is off (mqtt.go)

	ops   keyedMutex     // serializes enable/disable per collector
	watch *watch.Watcher // nil without inotify (see watch.go)

	mu        sync.Mutex
	installed map[string]bool
	disabled  map[string]bool          // flag overrides still in force
	intervals map[string]time.Duration // flag overrides still in force
	lastErr   map[string]string        // last collect error logged, per collector
}

// New builds an agent; Run starts it.
func New(opts Options) *Agent {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	a := &Agent{
		opts:      opts,
		log:       opts.Logger,
		cfg:       opts.Config,
		bus:       bus.New(),
		installed: map[string]bool{},
		disabled:  copyMap(opts.Disabled),
		intervals: copyMap(opts.Intervals),
		lastErr:   map[string]string{},
	}
	if opts.Guard.Logger == nil {
		opts.Guard.Logger = a.log.Named("http")
	}
	a.guard = httpguard.New(mcpGuard(opts.Guard, opts.MCP))
	a.hub = hub.New(a.bus, hub.Options{Logger: a.log.Named("ws"), CheckOrigin: a.guard.CheckOrigin})
	supOpts := opts.Supervisor
	supOpts.Dir = opts.PluginsDir
	supOpts.Logger = a.log.Named("plugin")
	supOpts.OnReady = a.pluginReady
	supOpts.Want = func(name string) (sdk.Config, bool) { return a.pluginConfig(name), a.enabled(name) }
	supOpts.ReservedTopics = map[string]string{}
	for _, e := range catalog.Builtins {
		supOpts.ReservedTopics[e.Topic] = e.Name
	}
	if supOpts.MemoryLimitFor == nil {
		supOpts.MemoryLimitFor = func(name string) int64 { return int64(a.cfg.Collector(name).MemoryLimitMB) << 20 }
	}
	a.sup = supervisor.New(supOpts)
	a.sched = scheduler.New(a.collect)
	a.watch = a.startWatcher()
	a.api = api.New(a.bus, a, a.hub)
	a.api.SetHost(api.Host{Root: opts.Root, SettingsFile: a.cfg.Path(),
		PowerActions: func() bool { return a.cfg.Get().PowerActions }})
	return a
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Bus returns the agent's bus (for in-process consumers such as metrics).
func (a *Agent) Bus() *bus.Bus { return a.bus }

// Hub returns the WebSocket hub.
func (a *Agent) Hub() *hub.Hub { return a.hub }

// API returns the REST server.
func (a *Agent) API() *api.Server { return a.api }

// Run discovers and starts the plugins, then serves HTTP on ln until ctx
// is done; then it stops the server, disconnects clients and stops every
// plugin.
func (a *Agent) Run(ctx context.Context, ln net.Listener) error {
	names, err := supervisor.Discover(a.opts.PluginsDir)
	if err != nil {
		a.log.Error("no plugins will run", "error", err)
	}
	if killed := supervisor.KillLeftovers(a.opts.PluginsDir); len(killed) > 0 {
		a.log.Warn("killed plugin processes left behind by an earlier towerd", "pids", killed)
	}
	a.mu.Lock()
	for _, n := range names {
		a.installed[n] = true
	}
	a.mu.Unlock()
	a.sup.Register(names)
	a.log.Info("plugins found", "dir", a.opts.PluginsDir, "plugins", names)
	for _, n := range names {
		if a.enabled(n) {
			if err := a.sup.Start(n, a.pluginConfig(n)); err != nil {
				a.log.Error("cannot start plugin", "plugin", n, "error", err)
			}
		} else {
			a.log.Info("collector disabled", "collector", n)
		}
	}

	a.server = &http.Server{
		Handler:           a.httpHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          a.log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(ln) }()
	a.log.Info("listening", "addr", ln.Addr().String())
	a.startMQTT()
	stopMDNS := a.startMDNS(ln)

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stopMDNS()
	a.shutdown()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (a *Agent) shutdown() {
	a.log.Info("shutting down")
	a.stopMQTT()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = a.server.Shutdown(sctx)
	a.hub.Close()
	a.stopWatcher()
	a.sched.StopAll()
	a.sup.StopAll()
	a.log.Info("stopped")
}

// collect is the scheduler's callback: one collect, published on success.
func (a *Agent) collect(ctx context.Context, name string) {
	topic, payload, err := a.sup.Collect(ctx, name)
	a.mu.Lock()
	prev := a.lastErr[name]
	if err != nil {
		a.lastErr[name] = err.Error()
	} else {
		delete(a.lastErr, name)
	}
	a.mu.Unlock()
	if err != nil {
		if err.Error() != prev { // once per distinct error, not every tick
			a.log.Warn("collect failed", "collector", name, "error", err)
		}
		return
	}
	if prev != "" {
		a.log.Info("collect recovered", "collector", name)
	}
	a.bus.Publish(topic, payload)
}

// pluginReady schedules a collector whose plugin has (re)started, or
// that was enabled in a running plugin, and collects at once.
func (a *Agent) pluginReady(name string, info sdk.Info) {
	if !a.enabled(name) {
		return // disabled while its plugin was starting
	}
	interval := a.interval(name, info)
	a.sched.Start(name, interval, a.timeout(name, interval))
	a.sched.Trigger(name)
	a.watchCollector(name, info)
}

func (a *Agent) enabled(name string) bool {
	a.mu.Lock()
	off := a.disabled[name]
	a.mu.Unlock()
	return !off && a.cfg.Collector(name).IsEnabled()
}

// interval resolves a collector's interval: flag, config, the plugin's
// own default, the catalog default, one minute.
func (a *Agent) interval(name string, info sdk.Info) time.Duration {
	a.mu.Lock()
	d, ok := a.intervals[name]
	a.mu.Unlock()
	switch {
	case ok:
		return d
	case a.cfg.Collector(name).IntervalSeconds > 0:
		return time.Duration(a.cfg.Collector(name).IntervalSeconds) * time.Second
	}
	if e, ok := catalog.Lookup(name); ok {
		return e.Interval
	}
	if info.DefaultInterval >= catalog.MinInterval {
		return info.DefaultInterval
	}
	return time.Minute
}

func (a *Agent) timeout(name string, interval time.Duration) time.Duration {
	if s := a.cfg.Collector(name).TimeoutSeconds; s > 0 {
		return time.Duration(s) * time.Second
	}
	return scheduler.Timeout(interval)
}

func (a *Agent) pluginConfig(name string) sdk.Config {
	return sdk.Config{Root: a.opts.Root, Options: a.cfg.Collector(name).Options}
}

// known reports whether name is a built-in, an installed plugin or a
// collector an installed plugin described.
func (a *Agent) known(name string) bool {
	if _, ok := catalog.Lookup(name); ok {
		return true
	}
	return a.installedCollector(name)
}

// installedCollector reports whether an installed plugin serves name: a
// plugin file of that name (not yet described, or a single-collector
// plugin) or a collector of an installed bundle.
func (a *Agent) installedCollector(name string) bool {
	for _, n := range a.collectorNames() {
		if n == name {
			return true
		}
	}
	return false
}

// collectorNames lists the collectors of the installed plugins: each
// bundle's collectors once it has described them, else the file name.
func (a *Agent) collectorNames() []string {
	a.mu.Lock()
	files := make([]string, 0, len(a.installed))
	for n := range a.installed {
		files = append(files, n)
	}
	a.mu.Unlock()
	var out []string
	for _, f := range files {
		infos, ok := a.sup.Described(f)
		if !ok {
			out = append(out, f)
			continue
		}
		for _, i := range infos {
			out = append(out, i.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Collectors implements api.Control: built-ins first, then the other
// collectors (third-party plugins, bundles' collectors) by name.
func (a *Agent) Collectors() []api.CollectorStatus {
	names := a.collectorNames()
	installed := make(map[string]bool, len(names))
	for _, n := range names {
		installed[n] = true
	}
	var out []api.CollectorStatus
	seen := map[string]bool{}
	for _, e := range catalog.Builtins {
		out = append(out, a.view(e.Name, installed[e.Name]))
		seen[e.Name] = true
	}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, a.view(n, true))
		}
	}
	return out
}

// Collector implements api.Control.
func (a *Agent) Collector(name string) (api.CollectorStatus, error) {
	if !a.known(name) {
		return api.CollectorStatus{}, fmt.Errorf("%w %q", api.ErrUnknownCollector, name)
	}
	return a.view(name, a.installedCollector(name)), nil
}

// view is the status of collector name; installed is
// installedCollector(name), which the caller may already know.
func (a *Agent) view(name string, installed bool) api.CollectorStatus {
	entry, builtin := catalog.Lookup(name)
	st, started := a.sup.Status(name)
	enabled := a.enabled(name)
	v := api.CollectorStatus{
		Name: name, Enabled: enabled, Required: entry.Required, Builtin: builtin, Installed: installed,
		Topic: entry.Topic, Actions: []string{},
	}
	if started {
		if st.Info.Topic != "" {
			v.Topic = st.Info.Topic
		}
		v.Version, v.Description = st.Info.Version, st.Info.Description
		if st.Info.Actions != nil {
			v.Actions = st.Info.Actions
		}
		v.PID, v.Restarts, v.ErrorCount, v.LastError = st.PID, st.Restarts, st.ErrorCount, st.LastError
		v.LastCollectMillis = float64(st.LastCollect.Microseconds()) / 1000
		v.LastSuccess = st.LastSuccess
	}
	v.IntervalSeconds = int(a.interval(name, st.Info) / time.Second)
	switch {
	case !enabled:
		v.Status = "disabled"
	case !installed:
		v.Status = "not_installed"
	case !started:
		v.Status = string(supervisor.Stopped)
	default:
		v.Status = string(st.State)
	}
	return v
}

// SetEnabled implements api.Control; the change is persisted first, then
// applied. Requests for one collector are applied one at a time, in the
// order they are accepted, so the final state is the last request's.
func (a *Agent) SetEnabled(name string, enabled bool) error {
	unlock := a.ops.lock(name)
	defer unlock()
	if !a.known(name) {
		return fmt.Errorf("%w %q", api.ErrUnknownCollector, name)
	}
	if e, ok := catalog.Lookup(name); ok && e.Required && !enabled {
		return fmt.Errorf("%s: %w", name, api.ErrRequired)
	}
	if err := a.cfg.UpdateCollector(name, func(c *config.Collector) { c.Enabled = &enabled }); err != nil {
		return err
	}
	a.mu.Lock()
	delete(a.disabled, name)
	a.mu.Unlock()
	installed := a.installedCollector(name)
	if enabled {
		if !installed {
			return nil // remembered; starts once the plugin is installed
		}
		a.log.Info("collector enabled", "collector", name)
		return a.sup.Start(name, a.pluginConfig(name))
	}
	a.log.Info("collector disabled", "collector", name)
	a.unwatchCollector(name)
	a.sched.Stop(name)
	topic := a.view(name, installed).Topic
	a.sup.Stop(name)
	if topic != "" {
		a.bus.Forget(topic)
	}
	return nil
}

// SetInterval implements api.Control.
func (a *Agent) SetInterval(name string, interval time.Duration) error {
	if !a.known(name) {
		return fmt.Errorf("%w %q", api.ErrUnknownCollector, name)
	}
	secs := int(interval / time.Second)
	if err := a.cfg.UpdateCollector(name, func(c *config.Collector) { c.IntervalSeconds = secs }); err != nil {
		return err
	}
	a.mu.Lock()
	delete(a.intervals, name)
	a.mu.Unlock()
	a.log.Info("collector interval changed", "collector", name, "interval", interval)
	a.sched.SetInterval(name, interval, a.timeout(name, interval))
	return nil
}

// Act implements api.Control.
func (a *Agent) Act(ctx context.Context, collector string, act sdk.Action) (string, error) {
	v, err := a.Collector(collector)
	if err != nil {
		return "", err
	}
	if !v.Enabled || v.Status != string(supervisor.Running) {
		return "", fmt.Errorf("%s: %w (status %s)", collector, api.ErrCollectorDown, v.Status)
	}
	supported := false
	for _, s := range v.Actions {
		supported = supported || s == act.Name
	}
	if !supported {
		return "", fmt.Errorf("%s: action %q: %w", collector, act.Name, api.ErrNotImplemented)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	msg, err := a.sup.Act(ctx, collector, act)
	switch {
	case errors.Is(err, supervisor.ErrRestarting):
		return "", downError(collector + " is restarting; try again in a few seconds")
	case errors.Is(err, supervisor.ErrNotRunning):
		return "", downError(collector + " is not running; try again in a few seconds")
	case err != nil:
		return "", err
	}
	// The action changed something: collect now, so clients see the new
	// state within about a second instead of at the next tick.
	a.sched.Trigger(collector)
	if msg == "" {
		msg = act.Name + " " + act.Target + ": done"
	}
	return msg, nil
}

// downError is a plain message for a collector that cannot act right now;
// the API answers it with 503.
type downError string

func (e downError) Error() string { return string(e) }
func (e downError) Unwrap() error { return api.ErrCollectorDown }

// keyedMutex is one mutex per key, created on first use.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	l := k.m[key]
	if l == nil {
		l = &sync.Mutex{}
		k.m[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

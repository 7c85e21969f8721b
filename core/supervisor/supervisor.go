package supervisor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/towerd/towerd/sdk"
)

// State of a plugin process, reported on each of its collectors.
type State string

// Plugin states reported by the API.
const (
	Starting   State = "starting"
	Running    State = "running"
	Restarting State = "restarting"
	Failed     State = "failed"
	Stopped    State = "stopped"
)

// Errors returned by Collect and Act.
var (
	ErrNotRunning = errors.New("plugin is not running")
	ErrUnknown    = errors.New("no such plugin")
	// ErrRestarting is returned by Act when the plugin process went away
	// during the call (killed, crashed, restarting); it wraps ErrNotRunning.
	ErrRestarting = fmt.Errorf("plugin is restarting; try again in a few seconds (%w)", ErrNotRunning)
)

// Options configure a Supervisor. Zero values take the defaults noted.
type Options struct {
	Dir    string       // plugins directory
	Logger hclog.Logger // parent logger; plugins log under their name
	// OnReady is called for each enabled collector each time its plugin
	// has started and the collector has been configured, and when a
	// collector of a running plugin is enabled, so the caller can schedule
	// it and collect at once instead of waiting a whole interval.
	OnReady func(collector string, info sdk.Info)
	// Want says whether a collector should run, and with which config. It
	// is asked for each collector a plugin describes, at every start; a
	// plugin process runs while any of its collectors is wanted. Nil: a
	// collector runs if Start was called with its name (or, for a bundle,
	// with the plugin's file name) and Stop was not called since.
	Want func(collector string) (sdk.Config, bool)
	// StartTimeout bounds the handshake (default 10 s).
	StartTimeout time.Duration
	// StopGrace is how long a plugin has to exit when asked before its
	// process group is killed (default 2 s).
	StopGrace time.Duration
	// BackoffMin and BackoffMax bound the delay between restarts
	// (defaults 100 ms and 30 s); the delay doubles per consecutive failure.
	BackoffMin, BackoffMax time.Duration
	// FailedAfter consecutive failures mark a plugin failed (default 5); it
	// is still retried, at BackoffMax.
	FailedAfter int
	// MaxPayload is the largest payload accepted from Collect (default 8 MiB).
	MaxPayload int
	// ReservedTopics maps a topic to the only plugin allowed to serve it
	// (the built-ins' topics), so no other plugin can take it over. The
	// plugins named here also reserve their collector names.
	ReservedTopics map[string]string
	// MemoryLimit caps a plugin's resident memory, checked after every
	// collect; over it the plugin is killed and restarted (default 512 MiB).
	MemoryLimit int64
	// MemoryLimitFor, if set, returns a collector's own limit (0:
	// MemoryLimit); a bundle gets the largest of its collectors'.
	MemoryLimitFor func(name string) int64
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.OnReady == nil {
		o.OnReady = func(string, sdk.Info) {}
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 2 * time.Second
	}
	if o.BackoffMin == 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.FailedAfter == 0 {
		o.FailedAfter = 5
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = 8 << 20
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = 512 << 20
	}
}

// Supervisor owns the plugin processes. It is keyed by process (a plugin
// file in the plugins directory) and answers by collector: a plugin serves
// one collector of its own name or, as a bundle, several.
//
// Locking: s.mu guards the maps and is never held during an RPC or a wait.
// Each plugin has p.mu (its fields, held briefly) and p.ops, which
// serializes the changes to which of its collectors run (start, stop,
// configure) and may be held during a Configure RPC — one plugin's slow
// Configure never delays another plugin, a status read or a collect.
type Supervisor struct {
	opts  Options
	mu    sync.Mutex
	procs map[string]*proc       // by plugin file name
	want  map[string]*sdk.Config // Start/Stop requests by name (nil: stopped); used when opts.Want is nil
	files map[string]bool        // plugin files known (Register), whose names bundles may not take
}

// New returns a supervisor for the plugins in opts.Dir.
func New(opts Options) *Supervisor {
	opts.setDefaults()
	return &Supervisor{opts: opts, procs: map[string]*proc{}, want: map[string]*sdk.Config{}, files: map[string]bool{}}
}

func (s *Supervisor) memoryLimit(p *proc) int64 {
	var limit int64
	if s.opts.MemoryLimitFor != nil {
		p.mu.Lock()
		names := []string{p.name}
		for _, c := range p.bundle.Collectors {
			names = append(names, c.Name)
		}
		p.mu.Unlock()
		for _, n := range names {
			limit = max(limit, s.opts.MemoryLimitFor(n))
		}
	}
	if limit > 0 {
		return limit
	}
	return s.opts.MemoryLimit
}

// Register tells the supervisor the plugin files installed, so that no
// bundle can describe a collector named like another plugin.
func (s *Supervisor) Register(files []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		s.files[f] = true
	}
}

// Status is a snapshot of one collector and its plugin process.
type Status struct {
	Name        string   // the collector
	Plugin      string   // the plugin file serving it
	State       State    // the plugin process's state
	Info        sdk.Info // as last described; zero before the first start
	PID         int
	Restarts    int
	ErrorCount  int
	LastError   string
	LastCollect time.Duration
	LastSuccess time.Time
}

// Start makes the collector (or plugin file) called name run: its plugin
// process is started unless it runs; a running plugin has the collector
// configured with cfg and reported ready (OnReady); a plugin waiting out a
// backoff (restarting or failed) is retried at once. A new process is
// never started while an earlier one of the same plugin is still alive.
func (s *Supervisor) Start(name string, cfg sdk.Config) error {
	if !validName(name) {
		return fmt.Errorf("invalid plugin name %q", name)
	}
	p := s.procFor(name)
	if p == nil {
		path := filepath.Join(s.opts.Dir, name)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("plugin %s: %w", name, err)
		}
		s.mu.Lock()
		if p = s.procs[name]; p == nil {
			p = &proc{sup: s, name: name, path: path, log: s.opts.Logger.Named(name), state: Stopped,
				cols: map[string]*colState{}, active: map[string]bool{}}
			s.procs[name] = p
		}
		s.mu.Unlock()
	}
	p.ops.Lock()
	defer p.ops.Unlock()
	s.mu.Lock()
	c := cfg
	s.want[name] = &c
	s.mu.Unlock()

	l := p.currentLife()
	if l == nil {
		p.startLife()
		return nil
	}
	p.mu.Lock()
	rpc, info, described := p.rpc, p.bundle, p.described(name)
	p.mu.Unlock()
	if rpc == nil {
		l.poke() // starting or in backoff: try now; the launch asks Want
		return nil
	}
	if !described { // the file name of a running bundle: its collectors follow Want
		p.reconcile(rpc, info)
		return nil
	}
	p.activate(rpc, name, cfg)
	return nil
}

// Stop stops the collector called name. Its plugin process is stopped
// (bounded: StopGrace, then SIGKILL of its process group) once none of its
// collectors is wanted; Stop returns when it is gone.
func (s *Supervisor) Stop(name string) {
	p := s.procFor(name)
	if p == nil {
		return
	}
	p.ops.Lock()
	s.mu.Lock()
	s.want[name] = nil
	s.mu.Unlock()
	l := p.currentLife()
	if l == nil {
		p.ops.Unlock()
		return
	}
	p.mu.Lock()
	delete(p.active, name)
	left := len(p.active)
	rpc := p.rpc
	p.mu.Unlock()
	stop := p.name == name || (rpc != nil && left == 0) || (rpc == nil && !p.anyWanted())
	if stop {
		l.halt()
	}
	p.ops.Unlock()
	if stop {
		<-l.done // outside p.ops: the run loop may need it to finish
	}
}

// StopAll stops every plugin in parallel and waits for them.
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	procs := make([]*proc, 0, len(s.procs))
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if l := p.currentLife(); l != nil {
			wg.Add(1)
			go func() { defer wg.Done(); l.halt(); <-l.done }()
		}
	}
	wg.Wait()
}

// procFor returns the plugin serving the collector name, or the plugin
// file called name.
func (s *Supervisor) procFor(name string) *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		p.mu.Lock()
		ok := p.name != name && p.described(name)
		p.mu.Unlock()
		if ok {
			return p
		}
	}
	return s.procs[name]
}

// Status returns the state of the collector name; ok is false if it was
// never started.
func (s *Supervisor) Status(name string) (Status, bool) {
	p := s.procFor(name)
	if p == nil {
		return Status{}, false
	}
	return p.status(name), true
}

// Statuses returns every known collector's state, by name.
func (s *Supervisor) Statuses() []Status {
	s.mu.Lock()
	procs := make([]*proc, 0, len(s.procs))
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	var out []Status
	for _, p := range procs {
		for _, n := range p.collectorNames() {
			out = append(out, p.status(n))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Described returns the collectors the plugin file last described itself
// with; ok is false before its first successful start.
func (s *Supervisor) Described(plugin string) ([]sdk.Info, bool) {
	s.mu.Lock()
	p := s.procs[plugin]
	s.mu.Unlock()
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bundle.Collectors) == 0 {
		return nil, false
	}
	return append([]sdk.Info(nil), p.bundle.Collectors...), true
}

// minSendBudget is the least time before its deadline a collect is still
// sent; with less, the core (not the plugin) was late, and the collect is
// skipped instead of blaming the plugin for an overrun.
const minSendBudget = 50 * time.Millisecond

// Collect calls the collector's Collect with ctx, which should carry the
// collector's deadline. A plugin is blamed only for time its call was in
// flight: if the deadline has already (nearly) passed when the call would
// be sent, the collect is skipped. A plugin whose call overruns the
// deadline is marked and killed the moment the deadline passes, and
// restarted. The payload is checked: its topic, its size and that it is
// JSON; a bad one is refused with an error.
func (s *Supervisor) Collect(ctx context.Context, name string) (string, []byte, error) {
	p := s.procFor(name)
	if p == nil {
		return "", nil, fmt.Errorf("%s: %w", name, ErrUnknown)
	}
	p.mu.Lock()
	rpc, gen, active, wire := p.rpc, p.gen, p.active[name], p.wireName(name)
	info, _ := p.infoOf(name)
	p.mu.Unlock()
	if rpc == nil || !active {
		return "", nil, fmt.Errorf("%s: %w", name, ErrNotRunning)
	}
	budget := time.Duration(-1)
	var fired atomic.Bool // the collect is over: answered, or killed at its deadline
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl)
		if budget < minSendBudget {
			return "", nil, fmt.Errorf("%s: collect skipped: its deadline passed before the core could send it (the plugin is not blamed)", name)
		}
		// Mark and kill at the deadline itself, whatever the transport does.
		watchdog := time.AfterFunc(budget+20*time.Millisecond, func() {
			if fired.CompareAndSwap(false, true) {
				p.collected(name, budget, overrunError(budget))
				p.kill(gen, overrunError(budget))
			}
		})
		defer watchdog.Stop()
	}
	sent := time.Now()
	topic, payload, err := rpc.Collect(ctx, wire)
	took := time.Since(sent)
	if !fired.CompareAndSwap(false, true) { // the watchdog has reported it
		return "", nil, overrunError(budget)
	}
	if errors.Is(err, sdk.ErrTooLarge) {
		err = fmt.Errorf("payload exceeds the limit of %d bytes (%v)", s.opts.MaxPayload, err)
	}
	if err == nil {
		err = s.checkPayload(info, topic, payload)
	}
	if err != nil && budget >= 0 && overran(ctx) && took >= budget*9/10 {
		err = overrunError(took)
		p.collected(name, took, err)
		p.kill(gen, err)
		return "", nil, err
	}
	p.collected(name, took, err)
	s.checkMemory(p, gen)
	if err != nil {
		return "", nil, fmt.Errorf("%s: collect: %w", name, err)
	}
	return topic, payload, nil
}

func overrunError(took time.Duration) error {
	return fmt.Errorf("collect did not return within its deadline (%v); plugin killed", took.Round(time.Millisecond))
}

// checkMemory kills p if its resident memory is over its limit; the run
// loop restarts it and the reason shows as its last error.
func (s *Supervisor) checkMemory(p *proc, gen int) {
	p.mu.Lock()
	pid := p.pid
	p.mu.Unlock()
	if pid <= 0 {
		return
	}
	rss, err := rssBytes(pid)
	if err != nil {
		return // gone already; the exit watch handles it
	}
	if limit := s.memoryLimit(p); rss > limit {
		p.kill(gen, fmt.Errorf("memory limit exceeded: resident %d MiB, limit %d MiB; plugin killed", rss>>20, limit>>20))
	}
}

func (s *Supervisor) checkPayload(info sdk.Info, topic string, payload []byte) error {
	switch {
	case topic != info.Topic:
		return fmt.Errorf("payload for topic %q, plugin described topic %q", topic, info.Topic)
	case len(payload) > s.opts.MaxPayload:
		return fmt.Errorf("payload of %d bytes exceeds the limit of %d", len(payload), s.opts.MaxPayload)
	case !json.Valid(payload):
		return errors.New("payload is not valid JSON")
	case payload[0] != '{' && payload[0] != '[':
		return errors.New("payload is not a JSON object or array")
	}
	return nil
}

// Act forwards a control action to the collector. If the plugin process
// goes away during the call (killed, crashed), the error is ErrRestarting,
// not the transport's words.
func (s *Supervisor) Act(ctx context.Context, name string, a sdk.Action) (string, error) {
	p := s.procFor(name)
	if p == nil {
		return "", fmt.Errorf("%s: %w", name, ErrUnknown)
	}
	p.mu.Lock()
	rpc, gen, rn, wire := p.rpc, p.gen, p.rn, p.wireName(name)
	p.mu.Unlock()
	if rpc == nil {
		return "", fmt.Errorf("%s: %w", name, ErrNotRunning)
	}
	a.Collector = wire
	msg, err := rpc.Act(ctx, a)
	if err != nil && !pluginVerdict(err) && p.wentAway(gen, rn, rpc) {
		return "", fmt.Errorf("%s: %w", name, ErrRestarting)
	}
	return msg, err
}

// pluginVerdict reports whether err is an answer the plugin gave on
// purpose (bad argument, not found, …), as opposed to a lost connection.
func pluginVerdict(err error) bool {
	for _, e := range []error{sdk.ErrInvalidArgument, sdk.ErrNotFound, sdk.ErrUnsupported, sdk.ErrConflict, sdk.ErrTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// proc is one plugin file: its process (one life at a time) and the state
// of its collectors.
type proc struct {
	sup  *Supervisor
	name string
	path string
	log  hclog.Logger
	ops  sync.Mutex // serializes changes to which collectors run; see Supervisor

	mu       sync.Mutex
	life     *life
	state    State
	bundle   sdk.Bundle // as last described; its names and topics are claimed while p runs
	rpc      *sdk.Client
	rn       *groupRunner
	gen      int // counts launches; a kill names the launch it is for
	pid      int
	restarts int
	failures int // consecutive, reset by a successful collect
	lastErr  string
	hung     chan error // receives the reason when the process is killed on purpose
	cols     map[string]*colState
	active   map[string]bool // collectors configured and scheduled in this launch
}

// colState is what each collector keeps of its own.
type colState struct {
	restarts    int
	errorCount  int
	lastErr     string
	lastCollect time.Duration
	lastSuccess time.Time
}

// life is one run of the plugin's run loop: from Start until stopped.
type life struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	retry    chan struct{}
}

func (l *life) halt() { l.stopOnce.Do(func() { close(l.stop) }) }
func (l *life) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}
func (l *life) poke() {
	select {
	case l.retry <- struct{}{}:
	default:
	}
}

// currentLife returns the life that is running and not asked to stop.
func (p *proc) currentLife() *life {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.life == nil || p.life.stopped() {
		return nil
	}
	return p.life
}

// startLife starts a new run loop; it waits for the previous one (and so
// its process) to be gone before launching. Called with p.ops held.
func (p *proc) startLife() {
	l := &life{stop: make(chan struct{}), done: make(chan struct{}), retry: make(chan struct{}, 1)}
	p.mu.Lock()
	var prev <-chan struct{}
	if p.life != nil {
		prev = p.life.done
	}
	p.life = l
	p.state = Starting
	p.mu.Unlock()
	go p.run(l, prev)
}

// described reports whether name is a collector of the plugin's last
// description. p.mu held.
func (p *proc) described(name string) bool {
	_, ok := p.infoOf(name)
	return ok
}

// infoOf returns the collector's description. p.mu held.
func (p *proc) infoOf(name string) (sdk.Info, bool) {
	for _, c := range p.bundle.Collectors {
		if c.Name == name {
			return c, true
		}
	}
	return sdk.Info{}, false
}

// wireName is the collector name sent in Configure/Collect/Act: empty for
// a single-collector plugin (exactly as before bundles), the name for a
// bundle. p.mu held.
func (p *proc) wireName(name string) string {
	if bundled(p.bundle) {
		return name
	}
	return ""
}

// bundled reports whether b is in the bundle form (collector names on the
// wire): not exactly one collector named like the plugin.
func bundled(b sdk.Bundle) bool {
	return len(b.Collectors) != 1 || b.Collectors[0].Name != b.Name
}

func (p *proc) collectorNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bundle.Collectors) == 0 {
		return []string{p.name}
	}
	var out []string
	for _, c := range p.bundle.Collectors {
		out = append(out, c.Name)
	}
	return out
}

func (p *proc) col(name string) *colState {
	c := p.cols[name]
	if c == nil {
		c = &colState{}
		p.cols[name] = c
	}
	return c
}

func (p *proc) status(name string) Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Name: name, Plugin: p.name, State: p.state, PID: p.pid, Restarts: p.restarts, LastError: p.lastErr}
	st.Info, _ = p.infoOf(name)
	if c := p.cols[name]; c != nil {
		st.Restarts, st.ErrorCount, st.LastError = c.restarts, c.errorCount, c.lastErr
		st.LastCollect, st.LastSuccess = c.lastCollect, c.lastSuccess
	}
	return st
}

func (p *proc) collected(name string, took time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.col(name)
	c.lastCollect = took
	if err != nil {
		c.errorCount++
		c.lastErr = err.Error()
		return
	}
	c.lastSuccess = time.Now()
	p.failures = 0
}

// kill kills launch gen of the plugin for reason; the run loop restarts it.
// The state shows it at once.
func (p *proc) kill(gen int, reason error) {
	p.mu.Lock()
	if p.gen != gen || p.rpc == nil {
		p.mu.Unlock()
		return // that launch is gone already
	}
	hung, rn := p.hung, p.rn
	p.rpc = nil // no more calls into a process being killed
	p.state = Restarting
	p.lastErr = reason.Error()
	p.mu.Unlock()
	p.log.Warn("killing plugin", "pid", rn.pid, "reason", reason)
	// The reason goes first, so the run loop reports it and not the lost
	// connection that the kill causes.
	select {
	case hung <- reason:
	default:
	}
	_ = rn.Kill(context.Background())
}

// wentAway reports whether launch gen of the plugin has died or is dying:
// it was killed, or its process exits within a moment.
func (p *proc) wentAway(gen int, rn *groupRunner, rpc *sdk.Client) bool {
	p.mu.Lock()
	changed := p.gen != gen || p.rpc == nil
	p.mu.Unlock()
	if changed {
		return true
	}
	t := time.NewTimer(300 * time.Millisecond)
	defer t.Stop()
	select {
	case <-rn.exitedCh():
		return true
	case <-t.C:
		st := rpc.Conn.GetState()
		return st != connectivity.Ready && st != connectivity.Idle
	}
}

// anyWanted reports whether any described collector of p is wanted. It
// calls Want, so no lock may be held.
func (p *proc) anyWanted() bool {
	for _, n := range p.collectorNames() {
		if _, ok := p.sup.wanted(p.name, n); ok {
			return true
		}
	}
	return false
}

// wanted says whether collector of plugin should run and with what config.
func (s *Supervisor) wanted(plugin, collector string) (sdk.Config, bool) {
	if s.opts.Want != nil {
		return s.opts.Want(collector)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.want[collector]; ok {
		if c == nil {
			return sdk.Config{}, false
		}
		return *c, true
	}
	if c := s.want[plugin]; c != nil { // a bundle started by its file name
		return *c, true
	}
	return sdk.Config{}, false
}

// configure calls Configure for one collector with a bound.
func (p *proc) configure(rpc *sdk.Client, name string, cfg sdk.Config) error {
	p.mu.Lock()
	cfg.Collector = p.wireName(name)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rpc.Configure(ctx, cfg)
}

// activate configures a collector of the running plugin and reports it
// ready. Called with p.ops held.
func (p *proc) activate(rpc *sdk.Client, name string, cfg sdk.Config) {
	if err := p.configure(rpc, name, cfg); err != nil {
		p.log.Warn("configure failed", "collector", name, "error", err)
		p.mu.Lock()
		p.col(name).lastErr = "configure: " + err.Error()
		p.mu.Unlock()
	}
	p.mu.Lock()
	if p.rpc != rpc { // killed meanwhile; the restart configures it
		p.mu.Unlock()
		return
	}
	p.active[name] = true
	info, _ := p.infoOf(name)
	p.mu.Unlock()
	p.sup.opts.OnReady(name, info)
}

// reconcile brings the running plugin's active collectors in line with
// Want. Called with p.ops held.
func (p *proc) reconcile(rpc *sdk.Client, b sdk.Bundle) {
	for _, c := range b.Collectors {
		cfg, want := p.sup.wanted(p.name, c.Name)
		p.mu.Lock()
		on := p.active[c.Name]
		if !want {
			delete(p.active, c.Name)
		}
		p.mu.Unlock()
		if want && !on {
			p.activate(rpc, c.Name, cfg)
		}
	}
}

// run starts the plugin, waits for it to exit, and starts it again after a
// backoff, until l is stopped or none of its collectors is wanted.
func (p *proc) run(l *life, prev <-chan struct{}) {
	defer close(l.done)
	defer l.halt() // a life that ends on its own is over for Start too
	if prev != nil {
		<-prev // one process per plugin at a time
	}
	for {
		if l.stopped() {
			p.setState(Stopped)
			return
		}
		client, rn, b, rpc, err := p.launch()
		if err != nil {
			if !p.failed(l, err) {
				return
			}
			continue
		}
		if !p.startCollectors(l, rpc, rn, b) { // stopped meanwhile, or nothing wanted; p holds no launch
			p.stopProcess(client, rn)
			p.setState(Stopped)
			p.log.Info("plugin stopped", "reason", "no collector of it is enabled")
			return
		}
		p.mu.Lock()
		hung, pid := p.hung, p.pid
		p.mu.Unlock()

		watchCtx, stopWatch := context.WithCancel(context.Background())
		lost := watchExit(watchCtx, rpc.Conn)
		var reason error
		select {
		case <-l.stop:
		case <-lost:
			reason = p.exitReason(hung)
		case <-rn.exitedCh():
			reason = p.exitReason(hung)
		case reason = <-hung:
		}
		stopWatch()
		p.mu.Lock()
		p.rpc, p.pid = nil, 0
		if reason != nil {
			p.restarts++
			p.state = Restarting
			p.lastErr = reason.Error()
			for n := range p.active {
				c := p.col(n)
				c.restarts++
				c.lastErr = reason.Error()
			}
		}
		p.active = map[string]bool{}
		p.mu.Unlock()
		p.stopProcess(client, rn)
		p.mu.Lock()
		p.rn = nil
		p.mu.Unlock()
		if reason == nil {
			p.setState(Stopped)
			p.log.Info("plugin stopped", "pid", pid)
			return
		}
		if !p.failed(l, reason) {
			return
		}
	}
}

// exitReason is why the process went away: the reason it was killed for by
// us, which may still be on its way and names the cause better, or else an
// unexpected exit.
func (p *proc) exitReason(hung chan error) error {
	select {
	case r := <-hung:
		return r
	case <-time.After(20 * time.Millisecond):
	}
	return errors.New("plugin process exited unexpectedly")
}

// startCollectors configures the wanted collectors of a freshly launched
// plugin under p.ops and marks it running. It returns false, leaving the
// process to be stopped, if l was stopped or no collector is wanted.
func (p *proc) startCollectors(l *life, rpc *sdk.Client, rn *groupRunner, b sdk.Bundle) bool {
	p.ops.Lock()
	defer p.ops.Unlock()
	if l.stopped() {
		return false
	}
	type todo struct {
		name string
		cfg  sdk.Config
	}
	var on []todo
	for _, c := range b.Collectors {
		if cfg, ok := p.sup.wanted(p.name, c.Name); ok {
			on = append(on, todo{c.Name, cfg})
		}
	}
	if len(on) == 0 {
		return false
	}
	p.mu.Lock()
	p.gen++
	p.rpc, p.rn, p.pid, p.hung = rpc, rn, rn.pid, make(chan error, 1)
	p.active = map[string]bool{}
	p.mu.Unlock()
	for _, t := range on {
		p.activate(rpc, t.name, t.cfg)
	}
	p.mu.Lock()
	if p.rpc == rpc { // not killed while configuring
		p.state = Running
	}
	p.mu.Unlock()
	p.log.Info("plugin running", "pid", rn.pid, "version", b.Version, "collectors", len(b.Collectors))
	return true
}

// stopProcess stops a plugin process within a bound: go-plugin's graceful
// shutdown (GRPCController.Shutdown) gets StopGrace; then the process group
// is killed. A frozen (SIGSTOPped) plugin cannot hold it up.
func (p *proc) stopProcess(client *plugin.Client, rn *groupRunner) {
	done := make(chan struct{})
	go func() { client.Kill(); close(done) }()
	grace := p.sup.opts.StopGrace
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	if rn != nil {
		p.log.Warn("plugin did not stop in time; killing its process group", "pid", rn.pid, "grace", grace)
		_ = rn.Kill(context.Background())
	}
	t.Reset(grace + pipeGrace)
	select {
	case <-done:
	case <-t.C:
		p.log.Error("plugin connection not released after SIGKILL; abandoned")
	}
}

// failed records a failure and waits out the backoff. It returns false if
// the plugin was stopped meanwhile.
func (p *proc) failed(l *life, err error) bool {
	refused := errors.Is(err, errRefused)
	p.mu.Lock()
	p.failures++
	if refused && p.failures < p.sup.opts.FailedAfter {
		// Retrying will not help until the plugin or the other side changes.
		p.failures = p.sup.opts.FailedAfter
	}
	sameErr := p.lastErr == err.Error()
	p.lastErr = err.Error()
	for _, c := range p.cols {
		c.lastErr = err.Error()
	}
	n := p.failures
	if n >= p.sup.opts.FailedAfter {
		p.state = Failed
	} else {
		p.state = Restarting
	}
	p.mu.Unlock()
	delay := p.sup.backoff(n)
	if refused {
		if !sameErr {
			p.log.Error("plugin refused", "reason", err, "retry_in", delay)
		}
	} else if n == p.sup.opts.FailedAfter {
		p.log.Error("plugin keeps failing; retrying at the longest interval", "failures", n, "retry_in", delay, "error", err)
	} else if n < p.sup.opts.FailedAfter {
		p.log.Warn("plugin failed", "error", err, "retry_in", delay)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-l.stop:
		p.setState(Stopped)
		return false
	case <-t.C:
	case <-l.retry:
		p.log.Info("retrying plugin now")
	}
	p.setState(Starting)
	return true
}

func (p *proc) setState(st State) {
	p.mu.Lock()
	p.state = st
	p.mu.Unlock()
}

// backoff returns the delay before attempt n+1 after n consecutive failures.
func (s *Supervisor) backoff(n int) time.Duration {
	if n >= s.opts.FailedAfter {
		return s.opts.BackoffMax
	}
	d := s.opts.BackoffMin << (n - 1)
	if d > s.opts.BackoffMax || d <= 0 {
		d = s.opts.BackoffMax
	}
	return d
}

// launch starts the process, completes the handshake and checks Describe
// against the contract. The collectors are configured by startCollectors.
func (p *proc) launch() (*plugin.Client, *groupRunner, sdk.Bundle, *sdk.Client, error) {
	sum, err := verify(p.sup.opts.Dir, p.name)
	if err != nil {
		return nil, nil, sdk.Bundle{}, nil, err
	}
	stderr := &tail{}
	var rn *groupRunner
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		Plugins:         sdk.PluginMap(nil),
		RunnerFunc: func(l hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			if sum != nil {
				if err := checkSum(p.path, sum); err != nil {
					return nil, err
				}
			}
			cmd := exec.Command(p.path)
			// The explicit minimal environment, then go-plugin's handshake
			// variables (spec.Env has nothing else: SkipHostEnv).
			cmd.Env = append(pluginEnv(p.log.GetLevel().String()), spec.Env...)
			rn = newGroupRunner(l, cmd)
			return rn, nil
		},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           p.sup.opts.Logger, // go-plugin adds the binary name itself
		Stderr:           stderr,
		StartTimeout:     p.sup.opts.StartTimeout,
		SkipHostEnv:      true, // plugins get pluginEnv, not the core's environment
		GRPCDialOptions: []grpc.DialOption{
			// The connection's state is how a dead plugin is noticed, so
			// it must not go idle just because the interval is long.
			grpc.WithIdleTimeout(0),
			// Fixed flow-control windows turn off grpc-go's bandwidth
			// estimator, which sends a PING after each response: one more
			// wakeup of the core and of the plugin per collect.
			grpc.WithInitialWindowSize(1 << 20),
			grpc.WithInitialConnWindowSize(1 << 20),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(p.sup.opts.MaxPayload + 4096)),
		},
	})
	b, rpc, err := p.handshake(client)
	if err != nil {
		if rn != nil {
			p.stopProcess(client, rn)
		}
		if errors.Is(err, errRefused) {
			return nil, nil, sdk.Bundle{}, nil, err
		}
		return nil, nil, sdk.Bundle{}, nil, startError(err, stderr.lastLine())
	}
	return client, rn, b, rpc, nil
}

// checkSum compares the plugin file's SHA-256 with the expected one.
func checkSum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return refuse("%s does not match its checksum in %s", path, SumsFile)
	}
	return nil
}

func (p *proc) handshake(client *plugin.Client) (sdk.Bundle, *sdk.Client, error) {
	proto, err := client.Client()
	if err != nil {
		if v, ok := pluginProtocol(err); ok {
			return sdk.Bundle{}, nil, protocolRefusal(v)
		}
		if errors.Is(err, errRefused) {
			return sdk.Bundle{}, nil, err
		}
		return sdk.Bundle{}, nil, fmt.Errorf("start: %w", err)
	}
	raw, err := proto.Dispense(sdk.PluginName)
	if err != nil {
		return sdk.Bundle{}, nil, fmt.Errorf("dispense: %w", err)
	}
	rpc, ok := raw.(*sdk.Client)
	if !ok {
		return sdk.Bundle{}, nil, fmt.Errorf("dispense: unexpected type %T", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.sup.opts.StartTimeout)
	defer cancel()
	b, err := rpc.DescribeBundle(ctx)
	if err != nil {
		return sdk.Bundle{}, nil, fmt.Errorf("describe: %w", err)
	}
	if err := p.checkBundle(b); err != nil {
		return sdk.Bundle{}, nil, refuse("describe: %w", err)
	}
	if err := p.sup.claim(p, b); err != nil {
		return sdk.Bundle{}, nil, refuse("describe: %w", err)
	}
	return b, rpc, nil
}

// checkBundle checks what a plugin says of itself against the contract.
func (p *proc) checkBundle(b sdk.Bundle) error {
	if len(b.Collectors) == 0 {
		return errors.New("plugin describes no collector")
	}
	if !bundled(b) {
		if err := sdk.ValidateInfo(b.Collectors[0]); err != nil {
			return err
		}
		if b.Name != p.name {
			return fmt.Errorf("plugin file %q calls itself %q; the names must match", p.name, b.Name)
		}
		return nil
	}
	if b.Name != p.name {
		return fmt.Errorf("plugin file %q calls itself %q; the names must match", p.name, b.Name)
	}
	names, topics := map[string]bool{}, map[string]bool{}
	for _, c := range b.Collectors {
		if err := sdk.ValidateInfo(c); err != nil {
			return fmt.Errorf("collector %q: %w", c.Name, err)
		}
		if names[c.Name] {
			return fmt.Errorf("collector name %q is described twice", c.Name)
		}
		if topics[c.Topic] {
			return fmt.Errorf("topic %q is described twice", c.Topic)
		}
		names[c.Name], topics[c.Topic] = true, true
	}
	return nil
}

// claim gives the bundle's collector names and topics to p (makes b its
// description) unless one is reserved for another plugin or another plugin
// that is not stopped already serves it. Check and claim happen under one
// lock, so of two plugins started at once with the same name or topic
// exactly one gets it.
func (s *Supervisor) claim(p *proc, b sdk.Bundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	reserved := map[string]bool{}
	for _, owner := range s.opts.ReservedTopics {
		reserved[owner] = true
	}
	for _, c := range b.Collectors {
		if owner, ok := s.opts.ReservedTopics[c.Topic]; ok && owner != p.name {
			return fmt.Errorf("topic %q belongs to the built-in collector %q; choose another topic", c.Topic, owner)
		}
		if c.Name != p.name && (reserved[c.Name] || s.files[c.Name]) {
			return fmt.Errorf("collector name %q is already taken by the plugin %q; collector names are unique across plugins", c.Name, c.Name)
		}
		for n, o := range s.procs {
			if n == p.name || o.currentLife() == nil {
				continue
			}
			o.mu.Lock()
			served := o.bundle.Collectors
			o.mu.Unlock()
			for _, oc := range served {
				if oc.Name == c.Name {
					return fmt.Errorf("collector name %q is already served by plugin %q; collector names are unique across plugins", c.Name, n)
				}
			}
			for _, oc := range served {
				if oc.Topic == c.Topic {
					return fmt.Errorf("topic %q is already served by plugin %q; choose another topic", c.Topic, n)
				}
			}
		}
	}
	p.mu.Lock()
	p.bundle = b
	for _, c := range b.Collectors {
		p.col(c.Name)
	}
	p.mu.Unlock()
	return nil
}

// watchExit returns a channel that is closed when the plugin's connection
// is lost, which is how a killed or crashed process shows itself at once,
// without polling.
func watchExit(ctx context.Context, conn *grpc.ClientConn) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for {
			st := conn.GetState()
			switch st {
			case connectivity.Idle, connectivity.TransientFailure, connectivity.Shutdown:
				close(ch)
				return
			}
			if !conn.WaitForStateChange(ctx, st) {
				return
			}
		}
	}()
	return ch
}

// overran reports whether ctx's deadline has passed, or is so close that an
// error now is the deadline reported first by the plugin's end of the
// stream (its copy of the deadline can fire before ours).
func overran(ctx context.Context) bool {
	if ctx.Err() == context.DeadlineExceeded {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 100*time.Millisecond
}

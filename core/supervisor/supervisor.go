package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/towerd/towerd/sdk"
)

// State of a plugin.
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
)

// Options configure a Supervisor. Zero values take the defaults noted.
type Options struct {
	Dir    string       // plugins directory
	Logger hclog.Logger // parent logger; plugins log under their name
	// OnReady is called each time a plugin has started and been configured,
	// so the caller can collect at once instead of waiting a whole interval.
	OnReady func(name string, info sdk.Info)
	// StartTimeout bounds the handshake (default 10 s).
	StartTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between restarts
	// (defaults 100 ms and 30 s); the delay doubles per consecutive failure.
	BackoffMin, BackoffMax time.Duration
	// FailedAfter consecutive failures mark a plugin failed (default 5); it
	// is still retried, at BackoffMax.
	FailedAfter int
	// MaxPayload is the largest payload accepted from Collect (default 8 MiB).
	MaxPayload int
	// ReservedTopics maps a topic to the only plugin allowed to serve it
	// (the built-ins' topics), so no other plugin can take it over.
	ReservedTopics map[string]string
	// MemoryLimit caps a plugin's resident memory, checked after every
	// collect; over it the plugin is killed and restarted (default 512 MiB).
	MemoryLimit int64
	// MemoryLimitFor, if set, returns a plugin's own limit (0: MemoryLimit).
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

func (s *Supervisor) memoryLimit(name string) int64 {
	if s.opts.MemoryLimitFor != nil {
		if l := s.opts.MemoryLimitFor(name); l > 0 {
			return l
		}
	}
	return s.opts.MemoryLimit
}

// Supervisor owns the plugin processes.
type Supervisor struct {
	opts  Options
	mu    sync.Mutex
	procs map[string]*proc
}

// New returns a supervisor for the plugins in opts.Dir.
func New(opts Options) *Supervisor {
	opts.setDefaults()
	return &Supervisor{opts: opts, procs: map[string]*proc{}}
}

// Status is a snapshot of one plugin.
type Status struct {
	Name        string
	State       State
	Info        sdk.Info // as last described; zero before the first start
	PID         int
	Restarts    int
	ErrorCount  int
	LastError   string
	LastCollect time.Duration
	LastSuccess time.Time
}

// Start launches the plugin called name (a file in the plugins directory)
// and keeps it running until Stop. cfg is passed to Configure after every
// start. Starting a running plugin only updates cfg; starting one that is
// waiting out a backoff (restarting or failed) retries it at once.
func (s *Supervisor) Start(name string, cfg sdk.Config) error {
	if !validName(name) {
		return fmt.Errorf("invalid plugin name %q", name)
	}
	path := filepath.Join(s.opts.Dir, name)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("plugin %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[name]; ok && !p.isStopped() {
		p.setConfig(cfg)
		select {
		case p.retry <- struct{}{}:
		default:
		}
		return nil
	}
	prev := s.procs[name]
	p := &proc{
		sup: s, name: name, path: path, cfg: cfg,
		log:   s.opts.Logger.Named(name),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		retry: make(chan struct{}, 1),
		state: Starting,
	}
	if prev != nil { // keep counters across disable/enable
		p.restarts, p.errorCount, p.info = prev.restarts, prev.errorCount, prev.info
	}
	s.procs[name] = p
	go p.run()
	return nil
}

// Stop stops the plugin and waits for its process to be gone.
func (s *Supervisor) Stop(name string) {
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	if p != nil {
		p.shutdown()
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
		wg.Add(1)
		go func() { defer wg.Done(); p.shutdown() }()
	}
	wg.Wait()
}

// Status returns the state of name; ok is false if it was never started.
func (s *Supervisor) Status(name string) (Status, bool) {
	s.mu.Lock()
	p := s.procs[name]
	s.mu.Unlock()
	if p == nil {
		return Status{}, false
	}
	return p.status(), true
}

// Statuses returns every started plugin's state, by name.
func (s *Supervisor) Statuses() []Status {
	s.mu.Lock()
	out := make([]Status, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, p.status())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Supervisor) get(name string) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[name]
	if p == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrUnknown)
	}
	return p, nil
}

// Collect calls the plugin's Collect with ctx, which should carry the
// collector's deadline. A plugin that overruns the deadline is killed and
// restarted. The payload is checked: its topic, its size and that it is
// JSON; a bad one is refused with an error.
func (s *Supervisor) Collect(ctx context.Context, name string) (string, []byte, error) {
	p, err := s.get(name)
	if err != nil {
		return "", nil, err
	}
	c, info := p.client()
	if c == nil {
		return "", nil, fmt.Errorf("%s: %w", name, ErrNotRunning)
	}
	start := time.Now()
	topic, payload, err := c.Collect(ctx, "")
	took := time.Since(start)
	if errors.Is(err, sdk.ErrTooLarge) {
		err = fmt.Errorf("payload exceeds the limit of %d bytes (%v)", s.opts.MaxPayload, err)
	}
	if err == nil {
		err = s.checkPayload(info, topic, payload)
	}
	if err != nil && overran(ctx) {
		err = fmt.Errorf("collect did not return within its deadline (%v); plugin killed", took.Round(time.Millisecond))
		p.collected(took, err)
		p.killHung(err)
		return "", nil, err
	}
	p.collected(took, err)
	s.checkMemory(p)
	if err != nil {
		return "", nil, fmt.Errorf("%s: collect: %w", name, err)
	}
	return topic, payload, nil
}

// checkMemory kills p if its resident memory is over its limit; the run
// loop restarts it and the reason shows as its last error.
func (s *Supervisor) checkMemory(p *proc) {
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
	if limit := s.memoryLimit(p.name); rss > limit {
		p.kill(fmt.Errorf("memory limit exceeded: resident %d MiB, limit %d MiB; plugin killed", rss>>20, limit>>20))
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

// Act forwards a control action to the plugin.
func (s *Supervisor) Act(ctx context.Context, name string, a sdk.Action) (string, error) {
	p, err := s.get(name)
	if err != nil {
		return "", err
	}
	c, _ := p.client()
	if c == nil {
		return "", fmt.Errorf("%s: %w", name, ErrNotRunning)
	}
	return c.Act(ctx, a)
}

// proc is one supervised plugin and its run loop.
type proc struct {
	sup  *Supervisor
	name string
	path string
	log  hclog.Logger

	topic string // topic claimed by this plugin; guarded by sup.mu

	stop     chan struct{} // closed to stop the run loop
	stopOnce sync.Once
	done     chan struct{} // closed when the run loop has exited
	retry    chan struct{} // cuts a backoff short (enable)

	mu          sync.Mutex
	cfg         sdk.Config
	state       State
	info        sdk.Info
	rpc         *sdk.Client
	pid         int
	restarts    int
	failures    int // consecutive, reset by a successful collect
	errorCount  int
	lastErr     string
	lastCollect time.Duration
	lastSuccess time.Time
	hung        chan error // receives the reason when Collect overran
}

func (p *proc) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{
		Name: p.name, State: p.state, Info: p.info, PID: p.pid,
		Restarts: p.restarts, ErrorCount: p.errorCount, LastError: p.lastErr,
		LastCollect: p.lastCollect, LastSuccess: p.lastSuccess,
	}
}

func (p *proc) isStopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

func (p *proc) setConfig(cfg sdk.Config) {
	p.mu.Lock()
	p.cfg = cfg
	rpc := p.rpc
	p.mu.Unlock()
	if rpc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rpc.Configure(ctx, cfg); err != nil {
			p.log.Warn("configure failed", "error", err)
		}
	}
}

func (p *proc) client() (*sdk.Client, sdk.Info) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rpc, p.info
}

func (p *proc) collected(took time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastCollect = took
	if err != nil {
		p.errorCount++
		p.lastErr = err.Error()
		return
	}
	p.lastSuccess = time.Now()
	p.failures = 0
}

// killHung kills a plugin whose Collect overran; the run loop restarts it.
func (p *proc) killHung(reason error) { p.kill(reason) }

// kill kills the plugin process for reason; the run loop restarts it.
func (p *proc) kill(reason error) {
	p.mu.Lock()
	hung, pid := p.hung, p.pid
	p.rpc = nil // no more calls into a process being killed
	p.mu.Unlock()
	p.log.Warn("killing plugin", "pid", pid, "reason", reason)
	// The reason goes first, so the run loop reports it and not the lost
	// connection that the kill causes.
	if hung != nil {
		select {
		case hung <- reason:
		default:
		}
	}
	if pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (p *proc) shutdown() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// run starts the plugin, waits for it to exit, and starts it again after a
// backoff, until stop is closed.
func (p *proc) run() {
	defer close(p.done)
	for {
		client, rpc, info, err := p.launch()
		if err != nil {
			if !p.failed(err) {
				return
			}
			continue
		}
		p.mu.Lock()
		p.rpc, p.info, p.state, p.hung = rpc, info, Running, make(chan error, 1)
		if rc := client.ReattachConfig(); rc != nil {
			p.pid = rc.Pid
		}
		hung, pid := p.hung, p.pid
		p.mu.Unlock()
		p.log.Info("plugin running", "pid", pid, "version", info.Version, "topic", info.Topic)
		p.sup.opts.OnReady(p.name, info)

		watchCtx, stopWatch := context.WithCancel(context.Background())
		exited := watchExit(watchCtx, rpc.Conn)
		var reason error
		select {
		case <-p.stop:
		case <-exited:
			reason = errors.New("plugin process exited unexpectedly")
			select {
			case reason = <-hung: // killed by us for hanging
			default:
			}
		case reason = <-hung:
		}
		stopWatch()
		p.mu.Lock()
		p.rpc, p.pid = nil, 0
		if reason != nil {
			p.restarts++
			p.state = Restarting
		}
		p.mu.Unlock()
		client.Kill()
		if reason == nil {
			p.setState(Stopped)
			p.log.Info("plugin stopped")
			return
		}
		if !p.failed(reason) {
			return
		}
	}
}

// failed records a failure and waits out the backoff. It returns false if
// the plugin was stopped meanwhile.
func (p *proc) failed(err error) bool {
	refused := errors.Is(err, errRefused)
	p.mu.Lock()
	p.failures++
	if refused && p.failures < p.sup.opts.FailedAfter {
		// Retrying will not help until the plugin or the other side changes.
		p.failures = p.sup.opts.FailedAfter
	}
	sameErr := p.lastErr == err.Error()
	p.lastErr = err.Error()
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
	case <-p.stop:
		p.setState(Stopped)
		return false
	case <-t.C:
	case <-p.retry:
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
// against the contract, then calls Configure.
func (p *proc) launch() (*plugin.Client, *sdk.Client, sdk.Info, error) {
	p.mu.Lock()
	cfg := p.cfg
	p.mu.Unlock()
	sum, err := verify(p.sup.opts.Dir, p.name)
	if err != nil {
		return nil, nil, sdk.Info{}, err
	}
	var secure *plugin.SecureConfig
	if sum != nil {
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	stderr := &tail{}
	cmd := exec.Command(p.path)
	cmd.Env = append(os.Environ(), sdk.LogLevelEnv+"="+p.log.GetLevel().String())
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginMap(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           p.sup.opts.Logger, // go-plugin adds the binary name itself
		Stderr:           stderr,
		StartTimeout:     p.sup.opts.StartTimeout,
		SkipHostEnv:      true, // cmd.Env has it already; ours must not be overridden
		SecureConfig:     secure,
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
	info, rpc, err := p.handshake(client, cfg)
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, nil, sdk.Info{}, refuse("%s does not match its checksum in %s", p.path, SumsFile)
		}
		if errors.Is(err, errRefused) {
			return nil, nil, sdk.Info{}, err
		}
		return nil, nil, sdk.Info{}, startError(err, stderr.lastLine())
	}
	return client, rpc, info, nil
}

func (p *proc) handshake(client *plugin.Client, cfg sdk.Config) (sdk.Info, *sdk.Client, error) {
	proto, err := client.Client()
	if err != nil {
		if v, ok := pluginProtocol(err); ok {
			return sdk.Info{}, nil, protocolRefusal(v)
		}
		return sdk.Info{}, nil, fmt.Errorf("start: %w", err)
	}
	raw, err := proto.Dispense(sdk.PluginName)
	if err != nil {
		return sdk.Info{}, nil, fmt.Errorf("dispense: %w", err)
	}
	rpc, ok := raw.(*sdk.Client)
	if !ok {
		return sdk.Info{}, nil, fmt.Errorf("dispense: unexpected type %T", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.sup.opts.StartTimeout)
	defer cancel()
	info, err := rpc.Describe(ctx)
	if err != nil {
		return sdk.Info{}, nil, fmt.Errorf("describe: %w", err)
	}
	if err := sdk.ValidateInfo(info); err != nil {
		return sdk.Info{}, nil, refuse("describe: %w", err)
	}
	if info.Name != p.name {
		return sdk.Info{}, nil, refuse("describe: plugin file %q calls itself %q; the names must match", p.name, info.Name)
	}
	if err := p.sup.claimTopic(p, info.Topic); err != nil {
		return sdk.Info{}, nil, refuse("describe: %w", err)
	}
	if err := rpc.Configure(ctx, cfg); err != nil {
		return sdk.Info{}, nil, fmt.Errorf("configure: %w", err)
	}
	return info, rpc, nil
}

// claimTopic gives topic to p unless it is reserved for another plugin or
// another plugin that is not stopped already serves it. Check and claim
// happen under one lock, so of two plugins started at once with the same
// topic exactly one gets it.
func (s *Supervisor) claimTopic(p *proc, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, ok := s.opts.ReservedTopics[topic]; ok && owner != p.name {
		return fmt.Errorf("topic %q belongs to the built-in collector %q; choose another topic", topic, owner)
	}
	for n, o := range s.procs {
		if n == p.name || o.isStopped() {
			continue
		}
		if o.topic == topic {
			return fmt.Errorf("topic %q is already served by plugin %q; choose another topic", topic, n)
		}
	}
	p.topic = topic
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

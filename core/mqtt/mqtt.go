package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/bus"
)

// Defaults of the settings.
const (
	DefaultTopicPrefix     = "unraid"
	DefaultDiscoveryPrefix = "homeassistant"
)

// Availability payloads.
const (
	Online  = "online"
	Offline = "offline"
)

// Options configure an Output. Broker is required; the rest have defaults.
type Options struct {
	Broker   string // tcp://, ssl:// (mqtts://, tls://), ws://, wss://
	Username string
	Password string
	ClientID string // default towerd-<hostname>
	Hostname string // default os.Hostname()
	// TopicPrefix (default "unraid") and DiscoveryPrefix (default
	// "homeassistant"); Discovery turns Home Assistant discovery on.
	TopicPrefix     string
	Discovery       bool
	DiscoveryPrefix string
	// ReadOnly: no command subscription.
	ReadOnly bool
	// StatusURL is the device's configuration_url (the status page).
	StatusURL string
	// TLS files (PEM).
	TLSCA, TLSCert, TLSKey string
	// Version is towerd's, for the discovery "origin".
	Version string

	Bus *bus.Bus
	// Commands serves command requests: the REST API's router (without
	// the HTTP guard; the broker's credentials are the guard). Nil: no
	// commands.
	Commands http.Handler
	Logger   hclog.Logger

	// RetryMin and RetryMax bound the reconnect backoff (default 1 s and
	// 60 s); PublishTimeout bounds one batch of publishes (default 10 s).
	RetryMin, RetryMax time.Duration
	PublishTimeout     time.Duration
	// LeftoverAfter is how long after the first connect retained messages
	// of an earlier run are collected before those towerd no longer
	// publishes are cleared (default 60 s: every enabled collector has
	// published once by then).
	LeftoverAfter time.Duration
}

// Stats are the output's counters, for /metrics.
type Stats struct {
	Connected bool
	Published int64 // messages the broker accepted
	Dropped   int64 // payloads never sent: superseded, timed out or refused
	Entities  int   // Home Assistant entities announced
}

// Output is a running MQTT output.
type Output struct {
	opts   Options
	log    hclog.Logger
	client paho.Client
	base   string // <prefix>/<hostname>
	node   string // discovery node id and unique_id stem

	mu      sync.Mutex
	pending map[string]*bus.Event // by bus topic: at most one waiting payload each
	unsub   func()

	wake      chan struct{} // capacity 1: "there is work"
	resync    atomic.Bool   // republish everything (after a connect, or HA came online)
	connected atomic.Bool
	published atomic.Int64
	dropped   atomic.Int64
	entities  atomic.Int64
	stop      chan struct{}
	done      chan struct{}
	cmdSem    chan struct{} // bounds concurrent commands
	cmdWG     sync.WaitGroup
	cmdMu     sync.Mutex // orders cmdWG.Add against Stop's Wait
	cmdClosed bool
	stopOnce  sync.Once

	// Owned by the worker goroutine.
	groups         map[string]*group
	device         map[string]any
	deviceChanged  bool      // the system payload changed the device: resend the other configs
	parityNext     time.Time // the next parity check published: re-rendered once it has passed
	leftoverDue    time.Time // when the retained leftovers of an earlier run are cleared
	leftoverListen time.Time // when the subscription for them ends
	leftoverAsked  bool      // the leftovers were subscribed to (once per process)

	leftoverMu sync.Mutex
	leftovers  map[string]bool // retained topics found on the broker at the first connect
}

// New checks the options and builds the client; Start connects.
func New(o Options) (*Output, error) {
	if o.Bus == nil {
		return nil, errors.New("mqtt: no bus")
	}
	if o.Broker == "" {
		return nil, errors.New("mqtt: no broker URL")
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Hostname == "" {
		o.Hostname = "unraid"
	}
	if o.ClientID == "" {
		o.ClientID = "towerd-" + o.Hostname
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = DefaultTopicPrefix
	}
	if o.DiscoveryPrefix == "" {
		o.DiscoveryPrefix = DefaultDiscoveryPrefix
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Minute
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.LeftoverAfter <= 0 {
		o.LeftoverAfter = time.Minute
	}
	u, err := url.Parse(o.Broker)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mqtt: broker URL %q is not a URL with a host", Redact(o.Broker))
	}
	if u.User != nil { // credentials in the URL: take them out, so the URL can be logged
		if o.Username == "" {
			o.Username = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && o.Password == "" {
			o.Password = p
		}
		u.User = nil
	}
	switch u.Scheme {
	case "mqtts":
		u.Scheme = "ssl"
	case "mqtt":
		u.Scheme = "tcp"
	}
	if u.Port() == "" {
		port := "1883"
		switch u.Scheme {
		case "ssl", "tls":
			port = "8883"
		case "ws":
			port = "80"
		case "wss":
			port = "443"
		}
		u.Host += ":" + port
	}
	out := &Output{
		opts:    o,
		log:     o.Logger,
		base:    o.TopicPrefix + "/" + topicLevel(o.Hostname),
		node:    "towerd_" + slug(o.Hostname),
		pending: map[string]*bus.Event{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		cmdSem:  make(chan struct{}, 4),
		groups:  map[string]*group{},
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	po := paho.NewClientOptions().
		AddBroker(u.String()).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(true).
		SetOrderMatters(false). // command handlers must not hold up acks
		SetKeepAlive(30*time.Second).
		SetPingTimeout(10*time.Second).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(min(5*time.Second, o.PublishTimeout)).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(o.RetryMax).
		SetConnectRetry(false). // the first connect is retried by run, with backoff, cancellably
		SetWill(out.topic("availability"), Offline, 1, true).
		SetOnConnectHandler(out.onConnect).
		SetConnectionLostHandler(out.onLost)
	if tlsCfg != nil {
		po.SetTLSConfig(tlsCfg)
	}
	out.client = paho.NewClient(po)
	out.device = out.deviceInfo(nil)
	return out, nil
}

func tlsConfig(o Options) (*tls.Config, error) {
	if o.TLSCA == "" && o.TLSCert == "" {
		return nil, nil // ssl:// still works, verified against the system roots
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("mqtt: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: TLS CA %s: no PEM certificate in it", o.TLSCA)
		}
		c.RootCAs = pool
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("mqtt: TLS client certificate %s / key %s: %w", o.TLSCert, o.TLSKey, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Redact removes credentials from a broker URL, for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…@" + raw[i+1:]
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

// Base is the topic every state topic of this server lives under.
func (o *Output) Base() string { return o.base }

func (o *Output) topic(sub string) string { return o.base + "/" + sub }

// Start subscribes to the bus and connects in the background; it never
// blocks on the broker.
func (o *Output) Start() {
	o.unsub = o.opts.Bus.Subscribe(o.enqueue)
	go o.run()
}

// Stop publishes "offline", disconnects and waits for the worker. A clean
// disconnect does not fire the last will, so "offline" is sent here.
func (o *Output) Stop() {
	o.stopOnce.Do(func() {
		if o.unsub != nil {
			o.unsub()
		}
		close(o.stop)
		<-o.done
		o.cmdMu.Lock()
		o.cmdClosed = true
		o.cmdMu.Unlock()
		o.cmdWG.Wait()
		if o.client.IsConnectionOpen() {
			t := o.client.Publish(o.topic("availability"), 1, true, Offline)
			t.WaitTimeout(2 * time.Second)
		}
		o.client.Disconnect(250)
		o.connected.Store(false)
		o.log.Info("mqtt output stopped")
	})
}

// Stats returns the counters.
func (o *Output) Stats() Stats {
	return Stats{Connected: o.connected.Load(), Published: o.published.Load(), Dropped: o.dropped.Load(),
		Entities: int(o.entities.Load())}
}

// enqueue is the bus subscriber: it must not block. A payload still
// waiting for the same topic is replaced (and counted as dropped), so the
// queue never holds more than one payload per topic.
func (o *Output) enqueue(ev *bus.Event) {
	o.mu.Lock()
	if _, waiting := o.pending[ev.Topic]; waiting {
		o.dropped.Add(1)
	}
	o.pending[ev.Topic] = ev
	o.mu.Unlock()
	o.signal()
}

func (o *Output) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *Output) onConnect(paho.Client) {
	o.connected.Store(true)
	o.log.Info("mqtt connected", "broker", Redact(o.opts.Broker), "base", o.base)
	o.resync.Store(true)
	o.signal()
}

func (o *Output) onLost(_ paho.Client, err error) {
	o.connected.Store(false)
	o.log.Warn("mqtt connection lost; reconnecting with backoff", "error", err)
}

// run connects (retrying with exponential backoff until Stop), then
// publishes whatever the bus hands over.
func (o *Output) run() {
	defer close(o.done)
	if !o.connectLoop() {
		return
	}
	for {
		select {
		case <-o.stop:
			return
		case <-o.wake:
		}
		if !o.connected.Load() {
			o.discardPending() // everything is sent again on the next connect
			continue
		}
		if o.resync.Swap(false) {
			o.syncAll()
			continue
		}
		o.mu.Lock()
		batch := o.pending
		o.pending = map[string]*bus.Event{}
		o.mu.Unlock()
		for _, ev := range batch {
			o.publishEvent(ev)
		}
		o.publishBatch(o.sweep())
		o.refreshParityNext()
		o.clearLeftovers()
	}
}

// refreshParityNext re-renders the parity schedule once the next check it
// announced has passed (the schedule itself may not change for months).
func (o *Output) refreshParityNext() {
	if o.parityNext.IsZero() || now().Before(o.parityNext) {
		return
	}
	if ev, ok := o.opts.Bus.Latest(parityScheduleTopic); ok {
		o.publishEvent(ev)
	} else {
		o.parityNext = time.Time{}
	}
}

func (o *Output) connectLoop() bool {
	delay := o.opts.RetryMin
	lastErr := ""
	for {
		t := o.client.Connect()
		select {
		case <-o.stop:
			return false
		case <-t.Done():
		}
		err := t.Error()
		if err == nil {
			return true
		}
		if err.Error() != lastErr { // once per distinct error, not every attempt
			o.log.Warn("mqtt broker unreachable; retrying with backoff", "broker", Redact(o.opts.Broker), "error", err)
			lastErr = err.Error()
		}
		select {
		case <-o.stop:
			return false
		case <-time.After(delay):
		}
		delay = min(delay*2, o.opts.RetryMax)
	}
}

func (o *Output) discardPending() {
	o.mu.Lock()
	o.dropped.Add(int64(len(o.pending)))
	o.pending = map[string]*bus.Event{}
	o.mu.Unlock()
}

// syncAll publishes availability, subscribes to commands and Home
// Assistant's status, and republishes every discovery config and the
// latest state: after a broker restart the retained messages may be gone.
func (o *Output) syncAll() {
	o.mu.Lock()
	o.pending = map[string]*bus.Event{} // the snapshot below is newer or as new
	o.mu.Unlock()
	o.publishBatch([]message{{topic: o.topic("availability"), payload: []byte(Online), qos1: true}})
	o.publishBatch(o.sweep()) // before forgetting what the broker may still hold
	if !o.leftoverAsked {
		o.leftoverAsked = true
		o.askLeftovers()
	}
	if !o.opts.ReadOnly && o.opts.Commands != nil {
		o.subscribe(o.topic("cmd/#"), o.onCommand)
	}
	if o.opts.Discovery {
		o.subscribe(o.opts.DiscoveryPrefix+"/status", o.onHAStatus)
	}
	for _, g := range o.groups {
		g.configs = map[string][]byte{} // unknown what the broker kept: send all again
	}
	snap := o.opts.Bus.Snapshot()
	for _, ev := range snap {
		if ev.Topic == systemTopic { // first: the device description comes from it
			o.publishBatch(o.render(ev))
			o.deviceChanged = false // the loop below sends the others anyway
		}
	}
	for _, ev := range snap {
		if ev.Topic != systemTopic {
			o.publishEvent(ev)
		}
	}
}

func (o *Output) subscribe(topic string, h paho.MessageHandler) {
	t := o.client.Subscribe(topic, 1, h)
	if !t.WaitTimeout(o.opts.PublishTimeout) {
		o.log.Warn("mqtt subscribe not acknowledged in time", "topic", topic)
	} else if err := t.Error(); err != nil {
		o.log.Warn("mqtt subscribe refused (broker ACL?)", "topic", topic, "error", err)
	}
}

// onHAStatus: Home Assistant announces "online" when it (re)starts;
// configs are retained, but a broker without persistence may have lost
// them, so they are sent again.
func (o *Output) onHAStatus(_ paho.Client, m paho.Message) {
	if string(m.Payload()) == Online {
		o.resync.Store(true)
		o.signal()
	}
}

// message is one publish.
type message struct {
	topic     string
	payload   []byte
	transient bool // not retained
	qos1      bool
}

// publishEvent publishes one bus event: its state topics and, with
// discovery on, the configs that changed, appeared or went away.
func (o *Output) publishEvent(ev *bus.Event) {
	o.publishBatch(o.render(ev))
	if o.deviceChanged {
		o.deviceChanged = false
		o.republishOthers()
	}
}

// publishBatch publishes msgs, retained unless marked transient, and
// waits until they are written to the connection, for PublishTimeout at
// most; what is not written by then, or refused, counts as dropped. State
// and configs go at QoS 0: nothing is held for a broker that does not
// answer, and whatever a lost connection swallowed is sent again on the
// next connect. Availability goes at QoS 1.
func (o *Output) publishBatch(msgs []message) {
	if len(msgs) == 0 {
		return
	}
	deadline := time.Now().Add(o.opts.PublishTimeout)
	tokens := make([]paho.Token, 0, len(msgs))
	for i, m := range msgs {
		if time.Now().After(deadline) || o.stopping() {
			o.dropped.Add(int64(len(msgs) - i))
			break
		}
		qos := byte(0)
		if m.qos1 {
			qos = 1
		}
		tokens = append(tokens, o.client.Publish(m.topic, qos, !m.transient, m.payload))
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for i, t := range tokens {
		select {
		case <-t.Done():
			if t.Error() != nil {
				o.dropped.Add(1)
			} else {
				o.published.Add(1)
			}
		case <-timer.C:
			o.dropped.Add(int64(len(tokens) - i))
			o.log.Debug("mqtt broker slow: messages not written in time", "dropped", len(tokens)-i)
			return
		case <-o.stop:
			return
		}
	}
}

func (o *Output) stopping() bool {
	select {
	case <-o.stop:
		return true
	default:
		return false
	}
}

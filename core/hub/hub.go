// Package hub serves the WebSocket at /api/v1/ws: every client gets the
// cached latest event of each topic on connect, then every new event it
// subscribed to. A client that cannot keep up is dropped; it never slows
// the others down.
package hub

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/towerd/towerd/core/bus"
)

// Settings from the wire contract (docs/websocket.md).
const (
	DefaultMaxClients = 10
	DefaultBuffer     = 256
	PingInterval      = 30 * time.Second
	ReadDeadline      = 60 * time.Second
	WriteDeadline     = 10 * time.Second
	MaxMessageSize    = 64 << 10
	// Subprotocol is selected when a client offers it; browsers offer it
	// beside "bearer.<token>" to authenticate (see core/httpguard).
	Subprotocol = "towerd.v1"
	// MessageRate and MessageBurst bound what a client may send (subscribe
	// requests); a client flooding beyond them is disconnected.
	MessageRate  = 10
	MessageBurst = 20
)

// Options configure a Hub; zero values take the defaults above.
type Options struct {
	MaxClients int
	Buffer     int
	Logger     hclog.Logger
	// CheckOrigin decides which browser origins may connect; nil allows
	// all, as the agent this replaces does.
	CheckOrigin func(r *http.Request) bool
	// PingInterval and ReadDeadline default to the constants above; a
	// client that sends nothing, not even a pong, for ReadDeadline is
	// dropped.
	PingInterval time.Duration
	ReadDeadline time.Duration
}

// Hub is the set of connected clients.
type Hub struct {
	bus      *bus.Bus
	opts     Options
	upgrader websocket.Upgrader
	log      hclog.Logger

	mu      sync.Mutex
	clients map[*client]struct{}
	// reserved counts slots taken by clients still being upgraded.
	reserved int
	closed   bool
	unsub    func()

	dropped atomic.Int64
}

// New returns a hub fed by b.
func New(b *bus.Bus, opts Options) *Hub {
	if opts.MaxClients == 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.Buffer == 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = PingInterval
	}
	if opts.ReadDeadline <= 0 {
		opts.ReadDeadline = ReadDeadline
	}
	check := opts.CheckOrigin
	if check == nil {
		check = func(*http.Request) bool { return true }
	}
	h := &Hub{
		bus:     b,
		opts:    opts,
		log:     opts.Logger,
		clients: map[*client]struct{}{},
		upgrader: websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096, CheckOrigin: check,
			Subprotocols: []string{Subprotocol}},
	}
	h.unsub = b.Subscribe(h.broadcast)
	return h
}

// Clients returns the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Dropped returns how many clients were dropped for not keeping up: their
// send buffer filled, a write to them timed out, or they went silent (no
// pong) past the read deadline.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// timedOut reports whether err is a deadline passing; if so the client is
// counted as dropped.
func (h *Hub) timedOut(c *client, err error, what string) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		h.dropped.Add(1)
		h.log.Warn("websocket client dropped: "+what+" deadline passed", "remote", c.addr)
	}
}

type client struct {
	conn   *websocket.Conn
	send   chan *websocket.PreparedMessage
	topics atomic.Pointer[map[string]bool] // nil: all topics
	addr   string
	// written is closed when the write loop has ended (close frame sent).
	written chan struct{}
	// closeCode and closeText are sent when send is closed.
	closeCode int
	closeText string
}

func (c *client) wants(topic string) bool {
	t := c.topics.Load()
	return t == nil || (*t)[topic]
}

// ServeHTTP upgrades the request and serves the client until it goes away.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The slot is taken before the upgrade answers, so clients are admitted
	// in the order they asked: the 11th can never overtake the 10th.
	reason := h.reserve()
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if reason == "" {
			h.release()
		}
		return // the upgrader has answered with an HTTP error
	}
	if reason != "" {
		h.log.Warn("websocket client refused", "remote", r.RemoteAddr, "reason", reason)
		msg := websocket.FormatCloseMessage(websocket.CloseTryAgainLater, reason)
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		conn.Close()
		return
	}
	c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, h.opts.Buffer), addr: r.RemoteAddr,
		written: make(chan struct{})}
	h.register(c)
	h.log.Debug("websocket client connected", "remote", c.addr)
	go h.writeLoop(c)
	h.readLoop(c)
}

// reserve takes a client slot, or returns why there is none.
func (h *Hub) reserve() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return "server shutting down"
	}
	if len(h.clients)+h.reserved >= h.opts.MaxClients {
		return "too many clients: the limit is " + strconv.Itoa(h.opts.MaxClients)
	}
	h.reserved++
	return ""
}

func (h *Hub) release() {
	h.mu.Lock()
	h.reserved--
	h.mu.Unlock()
}

// register turns a reserved slot into a client and queues the snapshot,
// under the same lock as broadcast so the client sees no event older than
// its snapshot after it. A client registering after Close is closed at once.
func (h *Hub) register(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
	for _, ev := range h.bus.Snapshot() {
		if pm, err := prepare(ev); err == nil {
			select {
			case c.send <- pm:
			default: // more topics than buffer: the newest events follow anyway
			}
		}
	}
	h.clients[c] = struct{}{}
	if h.closed {
		h.dropLocked(c, websocket.CloseGoingAway, "server shutting down")
	}
}

// drop removes c from the hub and ends its write loop, which sends the
// close frame with code and text, then closes the connection. It is the
// one way a client leaves: the first reason wins, later ones are no-ops
// (false), so send is closed exactly once.
func (h *Hub) drop(c *client, code int, text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropLocked(c, code, text)
}

// dropLocked is drop with h.mu held.
func (h *Hub) dropLocked(c *client, code int, text string) bool {
	if _, ok := h.clients[c]; !ok {
		return false
	}
	delete(h.clients, c)
	c.closeCode, c.closeText = code, text
	close(c.send)
	return true
}

func prepare(ev *bus.Event) (*websocket.PreparedMessage, error) {
	return websocket.NewPreparedMessage(websocket.TextMessage, ev.Envelope)
}

// broadcast queues ev for every client that wants it, dropping clients
// whose buffer is full.
func (h *Hub) broadcast(ev *bus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return // nothing to frame: an agent nobody watches stays cheap
	}
	pm, err := prepare(ev)
	if err != nil {
		return
	}
	for c := range h.clients {
		if !c.wants(ev.Topic) {
			continue
		}
		select {
		case c.send <- pm:
		default:
			if h.dropLocked(c, websocket.ClosePolicyViolation, "client too slow: send buffer full") {
				h.dropped.Add(1)
				h.log.Warn("websocket client too slow; dropped", "remote", c.addr, "buffer", h.opts.Buffer)
			}
		}
	}
}

func (h *Hub) writeLoop(c *client) {
	ping := time.NewTicker(h.opts.PingInterval)
	defer func() {
		ping.Stop()
		c.conn.Close()
		close(c.written)
	}()
	for {
		select {
		case pm, ok := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(WriteDeadline))
			if !ok {
				_ = c.conn.WriteMessage(websocket.CloseMessage,
					websocket.FormatCloseMessage(c.closeCode, c.closeText))
				return
			}
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				h.writeFailed(c, err)
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(WriteDeadline)); err != nil {
				h.writeFailed(c, err)
				return
			}
		}
	}
}

// writeFailed drops c after a failed write; the connection is broken, so
// the close frame the write loop would send is moot.
func (h *Hub) writeFailed(c *client, err error) {
	h.timedOut(c, err, "write")
	h.drop(c, websocket.CloseNormalClosure, "")
}

type subscribeRequest struct {
	Subscribe []string `json:"subscribe"`
}

// maxTopics bounds a subscribe request.
const maxTopics = 256

// ParseSubscribe reads a client message. ok is false for messages that are
// not subscribe requests (ignored: clients may send pings as text). A nil
// set means all topics.
func ParseSubscribe(msg []byte) (topics map[string]bool, ok bool) {
	var req subscribeRequest
	if json.Unmarshal(msg, &req) != nil {
		return nil, false
	}
	if len(req.Subscribe) == 0 {
		return nil, true
	}
	set := make(map[string]bool, min(len(req.Subscribe), maxTopics))
	for _, t := range req.Subscribe {
		if len(set) >= maxTopics {
			break
		}
		set[t] = true
	}
	return set, true
}

func (h *Hub) readLoop(c *client) {
	defer func() {
		h.drop(c, websocket.CloseNormalClosure, "")
		<-c.written // the write loop sends the close frame, bounded by WriteDeadline
	}()
	c.conn.SetReadLimit(MaxMessageSize)
	deadline := h.opts.ReadDeadline
	_ = c.conn.SetReadDeadline(time.Now().Add(deadline))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(deadline))
	})
	flood := rate.NewLimiter(MessageRate, MessageBurst)
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) { // gorilla has sent close 1009
				h.log.Warn("websocket client sent an oversized message; disconnected", "remote", c.addr, "limit", MaxMessageSize)
			}
			h.timedOut(c, err, "read")
			return
		}
		if !flood.Allow() {
			h.log.Warn("websocket client floods messages; disconnected", "remote", c.addr)
			h.drop(c, websocket.ClosePolicyViolation, "too many messages: the limit is "+strconv.Itoa(MessageRate)+" per second")
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(deadline))
		if set, ok := ParseSubscribe(msg); ok {
			if set == nil {
				c.topics.Store(nil)
			} else {
				c.topics.Store(&set)
			}
		}
	}
}

// Close disconnects every client with a going-away close frame.
func (h *Hub) Close() {
	h.unsub()
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		h.dropLocked(c, websocket.CloseGoingAway, "server shutting down")
	}
	h.mu.Unlock()
}

package hub

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/plugintest"
)

func newServer(t *testing.T) (*bus.Bus, *Hub, string) {
	t.Helper()
	b := bus.New()
	h := New(b, Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return b, h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type envelope struct {
	Event     string          `json:"event"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Topic     string          `json:"topic"`
}

func read(t *testing.T, c *websocket.Conn) envelope {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ev envelope
	if err := c.ReadJSON(&ev); err != nil {
		t.Fatalf("read: %v", err)
	}
	return ev
}

func TestSnapshotOnConnectAndEnvelope(t *testing.T) {
	b, _, url := newServer(t)
	b.Publish("b_update", []byte(`[]`))
	b.Publish("a_update", []byte(`{"x":1}`))
	c := dial(t, url)
	first, second := read(t, c), read(t, c)
	if first.Topic != "a_update" || second.Topic != "b_update" {
		t.Fatalf("snapshot topics %q, %q", first.Topic, second.Topic)
	}
	if first.Event != "update" || string(first.Data) != `{"x":1}` || time.Since(first.Timestamp) > time.Minute {
		t.Errorf("envelope %+v", first)
	}
	if string(second.Data) != `[]` {
		t.Errorf("empty list sent as %s, want []", second.Data)
	}
	b.Publish("a_update", []byte(`{"x":2}`))
	if ev := read(t, c); string(ev.Data) != `{"x":2}` {
		t.Errorf("live event %s", ev.Data)
	}
}

func TestSubscribeFilter(t *testing.T) {
	b, _, url := newServer(t)
	c := dial(t, url)
	if err := c.WriteJSON(map[string][]string{"subscribe": {"a_update"}}); err != nil {
		t.Fatal(err)
	}
	// The filter is applied asynchronously; publish b until a lands after it.
	plugintest.Eventually(t, 5*time.Second, func() bool {
		b.Publish("b_update", []byte(`{}`))
		b.Publish("a_update", []byte(`{}`))
		ev := read(t, c)
		for ev.Topic == "b_update" {
			ev = read(t, c)
		}
		// After an a_update, the next two events must both be a_update.
		b.Publish("b_update", []byte(`{}`))
		b.Publish("a_update", []byte(`{}`))
		return read(t, c).Topic == "a_update"
	}, "subscription filter never applied")
	if err := c.WriteJSON(map[string]any{"subscribe": nil}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool {
		b.Publish("b_update", []byte(`{}`))
		return read(t, c).Topic == "b_update"
	}, "null subscription did not restore all topics")
}

func TestEleventhClientRefused(t *testing.T) {
	_, h, url := newServer(t)
	for i := 0; i < DefaultMaxClients; i++ {
		dial(t, url)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == DefaultMaxClients }, "clients did not register")
	c := dial(t, url)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !asClose(err, &ce) || ce.Code != websocket.CloseTryAgainLater || !strings.Contains(ce.Text, "too many clients") {
		t.Fatalf("11th client got %v, want close 1013 'too many clients'", err)
	}
	if h.Clients() != DefaultMaxClients {
		t.Errorf("clients = %d", h.Clients())
	}
}

func asClose(err error, ce **websocket.CloseError) bool {
	e, ok := err.(*websocket.CloseError)
	*ce = e
	return ok
}

// A client that never reads fills its socket and then its 256-message
// queue; it is dropped while a reading client receives every event.
func TestSlowClientDroppedOthersUnaffected(t *testing.T) {
	b, h, url := newServer(t)
	// The stalled client: a raw TCP connection that completes the upgrade
	// and then never reads another byte.
	stalled := rawUpgrade(t, url)
	defer stalled.Close()
	good := dial(t, url)
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 2 }, "clients did not register")

	payload := []byte(`{"pad":"` + strings.Repeat("x", 32<<10) + `"}`)
	const events = 1500 // ~48 MiB: more than socket buffers plus the queue
	var got atomic.Int64
	go func() {
		for {
			_ = good.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := good.ReadMessage(); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	// Publish in batches the reading client keeps up with, as real
	// collectors do; only the stalled client falls behind.
	for i := 0; i < events; i += 100 {
		start := time.Now()
		for j := 0; j < 100; j++ {
			b.Publish("big_update", payload)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("publishing 100 events took %v: a stalled client slowed the fan-out", took)
		}
		plugintest.Eventually(t, 10*time.Second, func() bool { return got.Load() == int64(i+100) },
			"reading client fell behind: %d of %d", got.Load(), i+100)
	}
	if h.Dropped() != 1 || h.Clients() != 1 {
		t.Errorf("dropped = %d, clients = %d; want only the stalled client dropped", h.Dropped(), h.Clients())
	}
}

func rawUpgrade(t *testing.T, url string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 129)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), "101") {
		t.Fatalf("upgrade failed: %q", buf[:n])
	}
	return conn
}

func TestOversizedClientFrameClosesOnlyThatClient(t *testing.T) {
	b, h, url := newServer(t)
	bad, good := dial(t, url), dial(t, url)
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 2 }, "clients did not register")
	if err := bad.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", MaxMessageSize+1))); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 1 }, "oversized frame did not close the client")
	b.Publish("a_update", []byte(`{}`))
	if ev := read(t, good); ev.Topic != "a_update" {
		t.Errorf("good client got %+v", ev)
	}
}

func TestCloseSendsGoingAway(t *testing.T) {
	_, h, url := newServer(t)
	c := dial(t, url)
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 1 }, "client did not register")
	h.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("after Close: %v, want 1001 going away", err)
	}
	resp, err := http.Get(strings.Replace(url, "ws", "http", 1))
	if err == nil {
		resp.Body.Close()
	}
}

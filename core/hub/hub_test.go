package hub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/plugintest"
)

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
	_, b, url := start(t, Options{})
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
	h, b, url := start(t, Options{})
	c := dial(t, url)
	// Registration follows the upgrade: events published before it would
	// come in the snapshot, in topic order (a before b), and leave a b
	// behind that a later sawB would count.
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 1 }, "client did not register")
	// sawB publishes b then a (a is always subscribed) and reports whether
	// b arrived before a: a poll that can never block on a filtered event.
	sawB := func() bool {
		b.Publish("b_update", []byte(`{}`))
		b.Publish("a_update", []byte(`{}`))
		seen := false
		for ev := read(t, c); ev.Topic != "a_update"; ev = read(t, c) {
			seen = seen || ev.Topic == "b_update"
		}
		return seen
	}
	if err := c.WriteJSON(map[string][]string{"subscribe": {"a_update"}}); err != nil {
		t.Fatal(err)
	}
	// The filter applies asynchronously; once it does, b never comes again.
	plugintest.Eventually(t, 5*time.Second, func() bool { return !sawB() }, "subscription filter never applied")
	for i := 0; i < 5; i++ {
		if sawB() {
			t.Fatal("an unsubscribed topic was delivered")
		}
	}
	if err := c.WriteJSON(map[string]any{"subscribe": nil}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, sawB, "null subscription did not restore all topics")
}

// A client that never reads fills its socket and then its 256-message
// queue; it is dropped while a reading client receives every event.
func TestCloseSendsGoingAway(t *testing.T) {
	h, _, url := start(t, Options{})
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

// A client has one way out of the hub, whatever the reasons that race for
// it: the first drop closes its send queue with its code, later drops are
// no-ops (no double close panics), and a client registering into a closed
// hub leaves by the same path with "going away".
func TestDropOnce(t *testing.T) {
	h := New(bus.New(), Options{})
	h.Close()
	c := &client{send: make(chan *websocket.PreparedMessage, 4)}
	h.mu.Lock()
	h.reserved++
	h.mu.Unlock()
	h.register(c)
	if c.closeCode != websocket.CloseGoingAway || h.Clients() != 0 {
		t.Fatalf("registered into a closed hub: code %d, %d clients", c.closeCode, h.Clients())
	}
	if h.drop(c, websocket.ClosePolicyViolation, "again") {
		t.Error("second drop reported true")
	}
	if c.closeCode != websocket.CloseGoingAway {
		t.Errorf("second drop changed the close code to %d", c.closeCode)
	}
	if _, open := <-c.send; open {
		t.Error("send not closed")
	}
}

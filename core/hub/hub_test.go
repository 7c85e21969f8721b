package hub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

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
	_, b, url := start(t, Options{})
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

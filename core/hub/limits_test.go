package hub

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/plugintest"
)

func start(t *testing.T, opts Options) (*Hub, *bus.Bus, string) {
	t.Helper()
	b := bus.New()
	h := New(b, opts)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return h, b, "ws" + strings.TrimPrefix(srv.URL, "http")
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

// closeCode reads until the connection ends and returns the close code
// and text the server sent.
func closeCode(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// A client frame over the limit closes that client with 1009; the others
// stay.
func TestOversizedFrameCloses(t *testing.T) {
	t.Parallel()
	h, _, url := start(t, Options{})
	good, bad := dial(t, url), dial(t, url)
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 2 }, "clients never registered")
	if err := bad.WriteMessage(websocket.TextMessage, []byte(`{"subscribe":["`+strings.Repeat("x", MaxMessageSize)+`"]}`)); err != nil {
		t.Fatal(err)
	}
	if code, text := closeCode(t, bad); code != websocket.CloseMessageTooBig {
		t.Errorf("oversized frame: close %d %q, want 1009", code, text)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 1 }, "bad client not removed")
	_ = good.WriteMessage(websocket.TextMessage, []byte(`{"subscribe":[]}`))
}

// A client sending messages faster than the limit is disconnected with
// 1008; normal subscribe traffic is fine.
func TestFloodingClientDisconnected(t *testing.T) {
	t.Parallel()
	h, b, url := start(t, Options{})
	calm, flood := dial(t, url), dial(t, url)
	if err := calm.WriteJSON(map[string][]string{"subscribe": {"a_update"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if flood.WriteMessage(websocket.TextMessage, []byte(`{"subscribe":["a_update"]}`)) != nil {
			break // closed by the server
		}
	}
	if code, text := closeCode(t, flood); code != websocket.ClosePolicyViolation || !strings.Contains(text, "too many messages") {
		t.Errorf("flood: close %d %q, want 1008", code, text)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 1 }, "flooding client not removed")
	b.Publish("a_update", []byte(`{"n":1}`))
	_ = calm.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := calm.ReadMessage(); err != nil || !strings.Contains(string(msg), `"n":1`) {
		t.Errorf("calm client: %v %s", err, msg)
	}
}

// A client that never reads is dropped once its buffer fills; a reading
// client gets every event meanwhile and is never dropped.
func TestNonReadingClientDropped(t *testing.T) {
	t.Parallel()
	h, b, url := start(t, Options{Buffer: 8})
	stuck := dial(t, url) // never reads
	reader := dial(t, url)
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 2 }, "clients never registered")
	got := make(chan struct{}, 1)
	go func() {
		for {
			if _, _, err := reader.ReadMessage(); err != nil {
				close(got)
				return
			}
			got <- struct{}{}
		}
	}()
	payload := []byte(`{"pad":"` + strings.Repeat("x", 32<<10) + `"}`)
	sent := 0
	for ; sent < 5000 && h.Dropped() == 0; sent++ {
		b.Publish("t_update", payload)
		select { // the reader keeps up, message by message
		case _, ok := <-got:
			if !ok {
				t.Fatalf("reading client disconnected after %d events", sent)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("reading client got no event %d", sent)
		}
	}
	if h.Dropped() != 1 || h.Clients() != 1 {
		t.Fatalf("dropped=%d clients=%d after %d events, want the stuck client dropped", h.Dropped(), h.Clients(), sent)
	}
	t.Logf("stuck client dropped after %d events of 32 KiB", sent)
	_ = stuck
}

// The 11th client is refused with a close reason; the ten keep going.
func TestMaxClients(t *testing.T) {
	t.Parallel()
	h, _, url := start(t, Options{})
	for i := 0; i < DefaultMaxClients; i++ {
		dial(t, url)
	}
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == DefaultMaxClients }, "ten clients never registered")
	extra := dial(t, url)
	if code, text := closeCode(t, extra); code != websocket.CloseTryAgainLater || !strings.Contains(text, "too many clients") {
		t.Errorf("11th client: close %d %q", code, text)
	}
	if h.Clients() != DefaultMaxClients {
		t.Errorf("clients = %d after the refusal", h.Clients())
	}
}

// The towerd.v1 subprotocol is selected when offered (browsers offer it
// beside their bearer.<token> entry).
func TestSubprotocolSelected(t *testing.T) {
	t.Parallel()
	_, _, url := start(t, Options{})
	d := websocket.Dialer{Subprotocols: []string{"bearer.abc", Subprotocol}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != Subprotocol {
		t.Errorf("subprotocol %q, want %q", c.Subprotocol(), Subprotocol)
	}
}

// ParseSubscribe never panics and bounds the set it returns.
func FuzzParseSubscribe(f *testing.F) {
	for _, s := range []string{`{"subscribe":["system_update"]}`, `{"subscribe":null}`, `{"subscribe":[]}`, `ping`, `{"subscribe":"x"}`, `{}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		set, ok := ParseSubscribe(msg)
		if !ok && set != nil {
			t.Fatal("set without ok")
		}
		if len(set) > maxTopics {
			t.Fatalf("%d topics", len(set))
		}
	})
}

// A client that goes silent (sends nothing, answers no ping) is dropped at
// the read deadline and counted in Dropped, like a client whose buffer
// fills; a client that reads (so answers pings) stays.
func TestSilentClientDroppedAndCounted(t *testing.T) {
	t.Parallel()
	h, _, url := start(t, Options{PingInterval: 50 * time.Millisecond, ReadDeadline: 300 * time.Millisecond})
	silent := dial(t, url) // never reads: gorilla answers pings only while reading
	alive := dial(t, url)
	go func() {
		for {
			if _, _, err := alive.ReadMessage(); err != nil {
				return
			}
		}
	}()
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Dropped() == 1 }, "silent client not counted as dropped (dropped=%d)", h.Dropped())
	plugintest.Eventually(t, 5*time.Second, func() bool { return h.Clients() == 1 }, "silent client not dropped")
	_ = silent
	if h.Dropped() != 1 {
		t.Errorf("dropped = %d, want 1 (the reading client answers pings)", h.Dropped())
	}
}

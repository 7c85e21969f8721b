package coretest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Envelope is one WebSocket event as towerd sends it.
type Envelope struct {
	Event     string          `json:"event"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Topic     string          `json:"topic"`
	Received  time.Time       `json:"-"`
}

// WS is a WebSocket client that reads in the background into a queue.
type WS struct {
	Conn   *websocket.Conn
	events chan Envelope
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Dial connects to /api/v1/ws. header may carry e.g. Authorization.
func (a *Agent) Dial(t testing.TB, header ...http.Header) *WS {
	t.Helper()
	ws, _, err := a.DialErr(header...)
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	t.Cleanup(func() { ws.Conn.Close() })
	return ws
}

// DialErr connects without failing the test, for tests of refusals.
func (a *Agent) DialErr(header ...http.Header) (*WS, *http.Response, error) {
	var h http.Header
	if len(header) > 0 {
		h = header[0]
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+a.Addr+"/api/v1/ws", h)
	if err != nil {
		return nil, resp, err
	}
	ws := &WS{Conn: conn, events: make(chan Envelope, 4096), done: make(chan struct{})}
	go ws.read()
	return ws, resp, nil
}

func (w *WS) read() {
	defer close(w.done)
	for {
		_, msg, err := w.Conn.ReadMessage()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		var ev Envelope
		if json.Unmarshal(msg, &ev) != nil {
			continue
		}
		ev.Received = time.Now()
		select {
		case w.events <- ev:
		default: // the test is not consuming; keep the connection alive
		}
	}
}

// Closed reports whether the connection has ended, and why.
func (w *WS) Closed() (bool, error) {
	select {
	case <-w.done:
		w.mu.Lock()
		defer w.mu.Unlock()
		return true, w.err
	default:
		return false, nil
	}
}

// Next returns the next event within timeout.
func (w *WS) Next(t testing.TB, timeout time.Duration) Envelope {
	t.Helper()
	select {
	case ev := <-w.events:
		return ev
	case <-w.done:
		t.Fatalf("websocket closed: %v", w.err)
	case <-time.After(timeout):
		t.Fatalf("no websocket event within %v", timeout)
	}
	return Envelope{}
}

// WaitTopic returns the next event of topic within timeout, skipping others.
func (w *WS) WaitTopic(t testing.TB, topic string, timeout time.Duration) Envelope {
	t.Helper()
	ev, err := w.TryTopic(topic, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TryTopic is WaitTopic for callers that report the failure themselves.
func (w *WS) TryTopic(topic string, timeout time.Duration) (Envelope, error) {
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-w.events:
			if ev.Topic == topic {
				return ev, nil
			}
		case <-w.done:
			return Envelope{}, fmt.Errorf("websocket closed while waiting for %s: %v", topic, w.err)
		case <-deadline:
			return Envelope{}, fmt.Errorf("no %s event within %v", topic, timeout)
		}
	}
}

// Subscribe sends a topic filter.
func (w *WS) Subscribe(t testing.TB, topics ...string) {
	t.Helper()
	if err := w.Conn.WriteJSON(map[string][]string{"subscribe": topics}); err != nil {
		t.Fatal(err)
	}
}

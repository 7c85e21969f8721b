package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// event is one WebSocket message as a client saw it.
type event struct {
	Topic string
	Stamp time.Time       // the envelope's timestamp: when the core published it
	Recv  time.Time       // when this client had read it
	Data  json.RawMessage // kept by the first client only (freshness checks)
}

// wsClient records every event it receives.
type wsClient struct {
	id     int
	conn   *websocket.Conn
	mu     sync.Mutex
	events []event
	notify chan struct{} // signalled after each event
	done   chan struct{} // closed when the connection ends
	err    error
	quit   bool // set when the harness closes the connection itself
}

func dialAll(addr string, n int) ([]*wsClient, error) {
	var out []*wsClient
	for i := 0; i < n; i++ {
		conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/v1/ws", nil)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("websocket client %d: %w", i, err)
		}
		c := &wsClient{id: i, conn: conn, notify: make(chan struct{}, 1), done: make(chan struct{})}
		go c.read()
		out = append(out, c)
	}
	return out, nil
}

func closeAll(cs []*wsClient) {
	for _, c := range cs {
		c.mu.Lock()
		c.quit = true
		c.mu.Unlock()
		_ = c.conn.Close()
	}
}

func (c *wsClient) read() {
	defer close(c.done)
	var env struct {
		Timestamp time.Time       `json:"timestamp"`
		Topic     string          `json:"topic"`
		Data      json.RawMessage `json:"data"`
	}
	for {
		_, msg, err := c.conn.ReadMessage()
		recv := time.Now()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		env.Topic, env.Data = "", nil
		if json.Unmarshal(msg, &env) != nil {
			continue
		}
		ev := event{Topic: env.Topic, Stamp: env.Timestamp, Recv: recv}
		if c.id == 0 {
			ev.Data = append(json.RawMessage(nil), env.Data...)
		}
		c.mu.Lock()
		c.events = append(c.events, ev)
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}

// closed reports whether the connection ended other than by closeAll.
func (c *wsClient) closed() (bool, error) {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.quit, c.err
	default:
		return false, nil
	}
}

// between returns the events published in [from, to).
func (c *wsClient) between(from, to time.Time) []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []event
	for _, e := range c.events {
		if !e.Stamp.Before(from) && e.Stamp.Before(to) {
			out = append(out, e)
		}
	}
	return out
}

// waitTopic returns the first event of topic published after after.
func (c *wsClient) waitTopic(ctx context.Context, topic string, after time.Time, timeout time.Duration) (event, bool) {
	return c.waitFor(ctx, timeout, func(e event) bool { return e.Topic == topic && e.Stamp.After(after) })
}

func eventsBetween(cs []*wsClient, from, to time.Time) []event {
	var out []event
	for _, c := range cs {
		out = append(out, c.between(from, to)...)
	}
	return out
}

// waitData returns the first event of topic received after after whose
// data satisfies ok (first client only: the others keep no data).
func (c *wsClient) waitData(ctx context.Context, topic string, after time.Time, timeout time.Duration, ok func(json.RawMessage) bool) (event, bool) {
	return c.waitFor(ctx, timeout, func(e event) bool { return e.Topic == topic && e.Recv.After(after) && ok(e.Data) })
}

// waitFor returns the first event, received so far or until timeout, that
// match accepts; each event is looked at once.
func (c *wsClient) waitFor(ctx context.Context, timeout time.Duration, match func(event) bool) (event, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		c.mu.Lock()
		for ; seen < len(c.events); seen++ {
			if e := c.events[seen]; match(e) {
				c.mu.Unlock()
				return e, true
			}
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.done:
			return event{}, false
		case <-ctx.Done():
			return event{}, false
		case <-deadline.C:
			return event{}, false
		}
	}
}

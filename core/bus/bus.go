// Package bus keeps the latest payload of every topic and fans each new one
// out to subscribers. REST reads the cache; the WebSocket hub subscribes.
package bus

import (
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Event is one published payload. Envelope is the WebSocket message,
// encoded once for every client.
type Event struct {
	Topic    string
	Data     json.RawMessage
	Time     time.Time
	Envelope []byte
}

// Bus is the cache and the fan-out. The zero value is not usable; use New.
type Bus struct {
	mu     sync.RWMutex
	latest map[string]*Event
	subs   map[int]func(*Event)
	nextID int
}

// New returns an empty bus.
func New() *Bus {
	return &Bus{latest: map[string]*Event{}, subs: map[int]func(*Event){}}
}

// Publish caches data (valid JSON) as the latest of topic and hands it to
// every subscriber. Subscribers run synchronously and must not block.
func (b *Bus) Publish(topic string, data []byte) *Event {
	now := time.Now()
	ev := &Event{Topic: topic, Data: data, Time: now, Envelope: envelope(topic, data, now)}
	b.mu.Lock()
	b.latest[topic] = ev
	subs := make([]func(*Event), 0, len(b.subs))
	for _, fn := range b.subs {
		subs = append(subs, fn)
	}
	b.mu.Unlock()
	for _, fn := range subs {
		fn(ev)
	}
	return ev
}

// envelope builds {"event":"update","timestamp":…,"data":…,"topic":…}
// without reflection; data is already JSON.
func envelope(topic string, data []byte, t time.Time) []byte {
	buf := make([]byte, 0, len(data)+len(topic)+96)
	buf = append(buf, `{"event":"update","timestamp":"`...)
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","data":`...)
	buf = append(buf, data...)
	buf = append(buf, `,"topic":`...)
	buf = strconv.AppendQuote(buf, topic)
	return append(buf, '}')
}

// Latest returns the cached event of topic.
func (b *Bus) Latest(topic string) (*Event, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ev, ok := b.latest[topic]
	return ev, ok
}

// Forget drops the cached event of topic (its collector was disabled).
func (b *Bus) Forget(topic string) {
	b.mu.Lock()
	delete(b.latest, topic)
	b.mu.Unlock()
}

// Snapshot returns the latest event of every topic, ordered by topic.
func (b *Bus) Snapshot() []*Event {
	b.mu.RLock()
	out := make([]*Event, 0, len(b.latest))
	for _, ev := range b.latest {
		out = append(out, ev)
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// Subscribe registers fn for every future event and returns a function
// that removes it.
func (b *Bus) Subscribe(fn func(*Event)) (cancel func()) {
	b.mu.Lock()
	id := b.nextID
	b.nextID++
	b.subs[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

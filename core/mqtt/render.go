package mqtt

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/schema"
)

const systemTopic = schema.TopicSystem

// objectTopics are the built-in topics whose payload is one object, by
// the state sub-topic they go to (the REST path's name).
var objectTopics = map[string]string{
	schema.TopicSystem: "system",
	schema.TopicArray:  "array",
	schema.TopicUPS:    "ups",
}

// listTopics are the built-in list topics: the sub-topic (the REST path's
// name) and the item field that names an item's own topic.
var listTopics = map[string]struct{ path, key string }{
	schema.TopicDisks:      {"disks", "id"},
	schema.TopicContainers: {"docker", "name"},
	schema.TopicVMs:        {"vm", "name"},
	schema.TopicGPU:        {"gpu", "index"},
	schema.TopicNetwork:    {"network", "name"},
	schema.TopicShares:     {"shares", "name"},
}

// group is what has been published, retained, for one bus topic: the
// per-item state topics and the discovery configs (with their payload,
// so an unchanged config is not sent again). Owned by the worker.
type group struct {
	state   string // the topic's own state topic
	items   map[string]bool
	configs map[string][]byte
}

// itemMessages publishes each item of a list under <path>/<key>, the
// first of a duplicate key winning, records the topics in seen and calls
// each for the item's entities.
func (o *Output) itemMessages(path, field string, items []json.RawMessage, seen map[string]bool, each func(key, topic string, raw []byte)) []message {
	var msgs []message
	for _, raw := range items {
		key := itemKey(raw, field)
		if key == "" {
			continue
		}
		t := o.topic(path + "/" + topicLevel(key))
		if seen[t] {
			continue
		}
		seen[t] = true
		msgs = append(msgs, message{topic: t, payload: raw})
		each(key, t, raw)
	}
	return msgs
}

// clearItems returns empty retained messages for the item topics of g not
// in seen (the item went away), and makes seen g's items.
func (g *group) clearItems(seen map[string]bool) []message {
	var msgs []message
	for t := range g.items {
		if !seen[t] {
			msgs = append(msgs, message{topic: t, payload: nil})
		}
	}
	g.items = seen
	return msgs
}

// render turns one bus event into the messages to publish: state, and
// with discovery on, configs that are new or changed and empty retained
// messages for items and entities that went away.
func (o *Output) render(ev *bus.Event) []message {
	g := o.groups[ev.Topic]
	if g == nil {
		g = &group{items: map[string]bool{}, configs: map[string][]byte{}}
		o.groups[ev.Topic] = g
	}
	var msgs []message
	var ents []entity
	if path, ok := objectTopics[ev.Topic]; ok {
		g.state = o.topic(path)
		msgs = append(msgs, message{topic: g.state, payload: ev.Data})
		ents = o.objectEntities(ev.Topic, ev.Data)
	} else if spec, ok := listTopics[ev.Topic]; ok {
		g.state = o.topic(spec.path)
		msgs = append(msgs, message{topic: g.state, payload: ev.Data})
		var items []json.RawMessage
		if err := json.Unmarshal(ev.Data, &items); err != nil {
			o.log.Debug("mqtt: list payload is not a list", "topic", ev.Topic, "error", err)
			return msgs
		}
		seen := map[string]bool{}
		msgs = append(msgs, o.itemMessages(spec.path, spec.key, items, seen, func(key, t string, raw []byte) {
			ents = append(ents, o.itemEntities(ev.Topic, key, t, raw)...)
		})...)
		msgs = append(msgs, g.clearItems(seen)...)
	} else if spec, ok := bundleTopics[ev.Topic]; ok {
		g.state = o.topic(spec.path)
		msgs = append(msgs, message{topic: g.state, payload: ev.Data})
		ents = o.bundleEntities(ev.Topic)
		seen := map[string]bool{}
		extra := derived(ev.Topic, ev.Data)
		for sub, payload := range extra {
			t := g.state + "/" + sub
			seen[t] = true
			msgs = append(msgs, message{topic: t, payload: payload})
		}
		if ev.Topic == parityScheduleTopic {
			o.parityNext = nextTime(extra["next"])
		}
		msgs = append(msgs, o.itemMessages(spec.path, spec.key, bundleItems(spec, ev.Data), seen, func(key, t string, raw []byte) {
			ents = append(ents, o.bundleItemEntities(ev.Topic, key, t, raw)...)
		})...)
		msgs = append(msgs, g.clearItems(seen)...)
	} else {
		g.state = o.topic("topics/" + topicLevel(ev.Topic))
		msgs = append(msgs, message{topic: g.state, payload: ev.Data})
	}
	if ev.Topic == systemTopic {
		if dev := o.deviceInfo(ev.Data); !jsonEqual(dev, o.device) {
			o.device = dev
			for _, other := range o.groups { // every config embeds the device: send them again
				if other != g {
					other.configs = map[string][]byte{}
				}
			}
			o.deviceChanged = true
		}
	}
	if o.opts.Discovery {
		msgs = append(msgs, o.diffConfigs(g, ents)...)
	}
	return msgs
}

// republishOthers re-renders every cached topic but system (after the
// device description changed).
func (o *Output) republishOthers() {
	for _, ev := range o.opts.Bus.Snapshot() {
		if ev.Topic != systemTopic {
			o.publishBatch(o.render(ev))
		}
	}
}

// itemKey reads the field naming an item (a string, or a number for GPUs).
func itemKey(raw json.RawMessage, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	v := m[field]
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// diffConfigs returns the discovery configs of ents that are new or
// changed, and empty retained configs for those of g no longer present
// (Home Assistant removes the entity).
func (o *Output) diffConfigs(g *group, ents []entity) []message {
	var msgs []message
	now := make(map[string][]byte, len(ents))
	for _, e := range ents {
		topic := o.opts.DiscoveryPrefix + "/" + e.component + "/" + o.node + "/" + e.id + "/config"
		b := o.config(e)
		now[topic] = b
		if prev, ok := g.configs[topic]; !ok || string(prev) != string(b) {
			msgs = append(msgs, message{topic: topic, payload: b})
		}
	}
	for topic := range g.configs {
		if _, ok := now[topic]; !ok {
			msgs = append(msgs, message{topic: topic, payload: nil})
		}
	}
	g.configs = now
	o.countEntities()
	return msgs
}

func (o *Output) countEntities() {
	total := 0
	for _, g := range o.groups {
		total += len(g.configs)
	}
	o.entities.Store(int64(total))
}

// sweep clears what this output published for topics the bus no longer
// holds: disabling a collector forgets its topic (agent.SetEnabled), so
// its retained state, item topics and discovery configs are emptied and
// Home Assistant removes its entities. It costs a map lookup per topic
// and runs on the worker after each batch, so it adds no wake-up of its
// own; a collector enabled again publishes everything anew.
func (o *Output) sweep() []message {
	var msgs []message
	for topic, g := range o.groups {
		if _, ok := o.opts.Bus.Latest(topic); ok {
			continue
		}
		if g.state != "" {
			msgs = append(msgs, message{topic: g.state, payload: nil})
		}
		for t := range g.items {
			msgs = append(msgs, message{topic: t, payload: nil})
		}
		for t := range g.configs {
			msgs = append(msgs, message{topic: t, payload: nil})
		}
		delete(o.groups, topic)
		if topic == parityScheduleTopic {
			o.parityNext = time.Time{}
		}
		o.log.Debug("mqtt: topic gone from the bus (collector disabled); cleared its retained messages", "topic", topic)
	}
	if msgs != nil {
		o.countEntities()
	}
	return msgs
}

const parityScheduleTopic = "parity_schedule_update"

// nextTime reads next_check of a derived parity payload (zero if none).
func nextTime(b []byte) time.Time {
	var n struct {
		Next time.Time `json:"next_check"`
	}
	_ = json.Unmarshal(b, &n)
	return n.Next
}

// Removed configs keep their retained empty message only until Home
// Assistant has seen it; an empty payload is how discovery deletes.

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// slug makes an id usable as a discovery object id and in unique_ids
// ([a-zA-Z0-9_-]). A name that needed changing gets a short hash of the
// original, so two names that map to the same slug stay apart.
func slug(s string) string {
	var b strings.Builder
	changed := s == ""
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	if changed {
		b.WriteString("_" + shortHash(s))
	}
	return b.String()
}

// topicLevel makes s one MQTT topic level: no '/', '+', '#' or NUL
// (replaced by '_', with a short hash of the original).
func topicLevel(s string) string {
	if !strings.ContainsAny(s, "/+#\x00") && s != "" {
		return s
	}
	r := strings.NewReplacer("/", "_", "+", "_", "#", "_", "\x00", "_")
	return r.Replace(s) + "_" + shortHash(s)
}

func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%06x", h.Sum32()&0xffffff)
}

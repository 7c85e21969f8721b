package mqtt

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"

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
	items   map[string]bool
	configs map[string][]byte
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
		msgs = append(msgs, message{topic: o.topic(path), payload: ev.Data})
		ents = o.objectEntities(ev.Topic, ev.Data)
	} else if spec, ok := listTopics[ev.Topic]; ok {
		msgs = append(msgs, message{topic: o.topic(spec.path), payload: ev.Data})
		var items []json.RawMessage
		if err := json.Unmarshal(ev.Data, &items); err != nil {
			o.log.Debug("mqtt: list payload is not a list", "topic", ev.Topic, "error", err)
			return msgs
		}
		seen := map[string]bool{}
		for _, raw := range items {
			key := itemKey(raw, spec.key)
			if key == "" {
				continue
			}
			t := o.topic(spec.path + "/" + topicLevel(key))
			if seen[t] {
				continue // a duplicate key: the first item wins
			}
			seen[t] = true
			msgs = append(msgs, message{topic: t, payload: raw})
			ents = append(ents, o.itemEntities(ev.Topic, key, t, raw)...)
		}
		for t := range g.items {
			if !seen[t] {
				msgs = append(msgs, message{topic: t, payload: nil}) // clears the retained item
			}
		}
		g.items = seen
	} else {
		msgs = append(msgs, message{topic: o.topic("topics/" + topicLevel(ev.Topic)), payload: ev.Data})
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
	total := 0
	for _, other := range o.groups {
		total += len(other.configs)
	}
	o.entities.Store(int64(total))
	return msgs
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

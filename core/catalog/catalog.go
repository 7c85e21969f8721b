// Package catalog lists what the core knows of the nine built-in collectors
// before any plugin has run: name, topic and the wire contract's default
// interval. Third-party plugins are not listed; they describe themselves.
package catalog

import (
	"time"

	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/sdk/schema"
)

// Entry is one built-in collector.
type Entry struct {
	Name     string
	Topic    string
	Interval time.Duration
	// Required collectors cannot be disabled (clients always expect them).
	Required bool
}

// Builtins in the order clients list them.
var Builtins = []Entry{
	{Name: "system", Topic: schema.TopicSystem, Interval: 5 * time.Second, Required: true},
	{Name: "array", Topic: schema.TopicArray, Interval: 10 * time.Second},
	{Name: "disk", Topic: schema.TopicDisks, Interval: 30 * time.Second},
	{Name: "docker", Topic: schema.TopicContainers, Interval: 10 * time.Second},
	{Name: "vm", Topic: schema.TopicVMs, Interval: 10 * time.Second},
	{Name: "ups", Topic: schema.TopicUPS, Interval: 10 * time.Second},
	{Name: "gpu", Topic: schema.TopicGPU, Interval: 10 * time.Second},
	{Name: "network", Topic: schema.TopicNetwork, Interval: 15 * time.Second},
	{Name: "shares", Topic: schema.TopicShares, Interval: 60 * time.Second},
}

// Lookup returns the built-in collector called name.
func Lookup(name string) (Entry, bool) {
	for _, e := range Builtins {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Interval limits accepted from users; defined once, in core/config.
const (
	MinInterval = config.MinInterval
	MaxInterval = config.MaxInterval
)

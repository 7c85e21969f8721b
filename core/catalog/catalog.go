// Package catalog is the one description of the nine built-in collectors
// the core knows before any plugin has run: name, topic, the wire
// contract's default interval, the REST path that serves the payload, the
// keys an item of a list payload is found by, and the actions the plugin
// declares. The API's routes, action targets and OpenAPI document are built
// from it; tests check README's collectors table and each built-in plugin's
// Describe against it (plugins cannot import the core, so for them the
// check is the tie). Third-party plugins are not listed; they describe
// themselves.
package catalog

import (
	"slices"
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
	// Path is the REST path, under /api/v1, that serves the latest payload.
	Path string
	// ItemKeys, for a list payload served item by item at Path/{id}: the
	// fields an id may match, in order.
	ItemKeys []string
	// Actions are the action names the plugin declares in Describe, as it
	// spells them on the wire.
	Actions []string
}

// Builtins in the order clients list them.
var Builtins = []Entry{
	{Name: "system", Topic: schema.TopicSystem, Interval: 5 * time.Second, Required: true, Path: "/system"},
	{Name: "array", Topic: schema.TopicArray, Interval: 10 * time.Second, Path: "/array",
		Actions: []string{"parity-check-start", "parity-check-stop", "parity-check-pause", "parity-check-resume",
			"array-start", "array-stop", "clear-disk-stats"}},
	{Name: "disk", Topic: schema.TopicDisks, Interval: 30 * time.Second, Path: "/disks", ItemKeys: []string{"id", "device", "name"},
		Actions: []string{"spinup", "spindown"}},
	{Name: "docker", Topic: schema.TopicContainers, Interval: 10 * time.Second, Path: "/docker", ItemKeys: []string{"id", "name"},
		Actions: []string{"start", "stop", "restart", "pause", "unpause", "autostart", "remove"}},
	{Name: "vm", Topic: schema.TopicVMs, Interval: 10 * time.Second, Path: "/vm", ItemKeys: []string{"id", "name"},
		Actions: []string{"start", "stop", "force-stop", "restart", "pause", "resume", "hibernate", "reset"}},
	{Name: "ups", Topic: schema.TopicUPS, Interval: 10 * time.Second, Path: "/ups"},
	{Name: "gpu", Topic: schema.TopicGPU, Interval: 10 * time.Second, Path: "/gpu"},
	{Name: "network", Topic: schema.TopicNetwork, Interval: 15 * time.Second, Path: "/network", ItemKeys: []string{"name"}},
	{Name: "shares", Topic: schema.TopicShares, Interval: 60 * time.Second, Path: "/shares", ItemKeys: []string{"name"}},
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

// MustLookup is Lookup for names the core itself spells; an unknown name
// is a programming error.
func MustLookup(name string) Entry {
	e, ok := Lookup(name)
	if !ok {
		panic("catalog: no built-in collector " + name)
	}
	return e
}

// ActionsOf returns a copy of the actions of the built-in collector name.
func ActionsOf(name string) []string { return slices.Clone(MustLookup(name).Actions) }

// Interval limits accepted from users; defined once, in core/config.
const (
	MinInterval = config.MinInterval
	MaxInterval = config.MaxInterval
)

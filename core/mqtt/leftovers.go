package mqtt

import (
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Leftovers of an earlier run. The output knows what it published since it
// started, so an item or collector that went away while towerd was down
// (a container removed, a collector disabled in the settings file) would
// keep its retained state and its Home Assistant entities for ever. At the
// first connect of the process it subscribes to its own state topics and
// discovery configs and notes the retained messages the broker hands over
// (live messages, its own included, arrive without the retain flag); after
// a few seconds it unsubscribes, and after LeftoverAfter it empties those
// it does not publish itself any more. Once per process: later on it
// tracks everything it publishes, and a broker that restarted has only
// what towerd sent.

func (o *Output) leftoverFilters() []string {
	f := []string{o.base + "/#"}
	if o.opts.Discovery {
		f = append(f, o.opts.DiscoveryPrefix+"/+/"+o.node+"/+/config")
	}
	return f
}

// askLeftovers subscribes to the filters and arms the clean-up (worker).
func (o *Output) askLeftovers() {
	o.leftoverMu.Lock()
	o.leftovers = map[string]bool{}
	o.leftoverMu.Unlock()
	for _, f := range o.leftoverFilters() {
		o.subscribe(f, o.onLeftover)
	}
	// The broker sends what it retains right after the subscription is
	// acknowledged; listening longer would only echo this output's own
	// publishes back to it.
	window := min(leftoverWindow, o.opts.LeftoverAfter)
	o.leftoverListen = time.Now().Add(window)
	o.leftoverDue = time.Now().Add(o.opts.LeftoverAfter)
	time.AfterFunc(window, o.signal) // two wake-ups, once per process
	time.AfterFunc(o.opts.LeftoverAfter, o.signal)
}

// leftoverWindow: how long the subscription listens for retained messages.
const leftoverWindow = 5 * time.Second

// onLeftover notes a retained message the broker held before this run.
func (o *Output) onLeftover(_ paho.Client, m paho.Message) {
	if !m.Retained() || len(m.Payload()) == 0 {
		return
	}
	o.leftoverMu.Lock()
	if o.leftovers != nil {
		o.leftovers[m.Topic()] = true
	}
	o.leftoverMu.Unlock()
}

// clearLeftovers, once due, unsubscribes and empties the leftovers this
// output does not publish (worker).
func (o *Output) clearLeftovers() {
	if !o.leftoverListen.IsZero() && !time.Now().Before(o.leftoverListen) {
		o.leftoverListen = time.Time{}
		t := o.client.Unsubscribe(o.leftoverFilters()...)
		t.WaitTimeout(o.opts.PublishTimeout)
	}
	if o.leftoverDue.IsZero() || time.Now().Before(o.leftoverDue) {
		return
	}
	o.leftoverDue = time.Time{}
	o.leftoverMu.Lock()
	found := o.leftovers
	o.leftovers = nil
	o.leftoverMu.Unlock()

	owned := map[string]bool{o.topic("availability"): true}
	for _, g := range o.groups {
		owned[g.state] = true
		for t := range g.items {
			owned[t] = true
		}
		for t := range g.configs {
			owned[t] = true
		}
	}
	var msgs []message
	for t := range found {
		if owned[t] || strings.HasPrefix(t, o.topic("cmd/")) || t == o.topic("result") {
			continue // a retained command or result is not ours to judge
		}
		msgs = append(msgs, message{topic: t, payload: nil})
	}
	if len(msgs) > 0 {
		o.log.Info("mqtt: cleared retained messages an earlier run left and this one does not publish", "count", len(msgs))
		o.publishBatch(msgs)
	}
}

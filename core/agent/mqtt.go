package agent

import (
	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/core/metrics"
	"github.com/towerd/towerd/core/mqtt"
	"github.com/towerd/towerd/sdk"
)

// MQTTOptions are the MQTT output's settings, resolved from the file and
// flags by the caller (cmd/towerd).
type MQTTOptions = config.MQTT

// startMQTT starts the MQTT output when it is enabled; off, it does
// nothing at all (no goroutine, no socket, no bus subscription). Commands
// are served by the REST API's router, so they are validated as REST
// validates and reach this agent through the same Control.
func (a *Agent) startMQTT() {
	m := a.opts.MQTT
	if !m.Enabled {
		return
	}
	out, err := mqtt.New(mqtt.Options{
		Broker: m.Broker, Username: m.Username, Password: m.Password, ClientID: m.ClientID,
		Hostname: m.Hostname, TopicPrefix: m.TopicPrefix,
		Discovery: m.DiscoveryOn(), DiscoveryPrefix: m.DiscoveryPrefix,
		ReadOnly: m.ReadOnly, StatusURL: m.StatusURL,
		TLSCA: m.TLSCA, TLSCert: m.TLSCert, TLSKey: m.TLSKey,
		Version: sdk.Version, Bus: a.bus, Commands: a.api, Logger: a.log.Named("mqtt"),
	})
	if err != nil {
		a.log.Error("MQTT output not started", "error", err)
		return
	}
	a.mqtt.Store(out)
	out.Start()
	a.log.Info("MQTT output on", "broker", mqtt.Redact(m.Broker), "topics", out.Base()+"/#",
		"discovery", m.DiscoveryOn(), "commands", !m.ReadOnly)
}

// stopMQTT publishes "offline" and disconnects, if the output runs.
func (a *Agent) stopMQTT() {
	if out := a.mqtt.Load(); out != nil {
		out.Stop()
	}
}

// mqttStats feeds /metrics; false while MQTT is off.
func (a *Agent) mqttStats() (metrics.MQTTStats, bool) {
	out := a.mqtt.Load()
	if out == nil {
		return metrics.MQTTStats{}, false
	}
	s := out.Stats()
	return metrics.MQTTStats{Connected: s.Connected, Published: s.Published, Dropped: s.Dropped, Entities: s.Entities}, true
}

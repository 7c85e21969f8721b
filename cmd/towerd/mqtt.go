package main

import (
	"errors"
	"flag"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/config"
)

// MQTTPasswordEnv holds the MQTT password, so it need not be on a command
// line (visible in ps) nor in the settings file. It is removed from the
// environment once read, so plugin processes never see it.
const MQTTPasswordEnv = "TOWERD_MQTT_PASSWORD"

// mqttFlags are the --mqtt-* flags; each overrides the "mqtt" section of
// the settings file for this run. --mqtt-broker turns the output on.
type mqttFlags struct {
	broker, username, password, clientID, hostname, prefix string
	discovery                                              bool
	discoveryPrefix, tlsCA, tlsCert, tlsKey, statusURL     string
	readOnly                                               bool
}

func addMQTTFlags(fs *flag.FlagSet) *mqttFlags {
	m := &mqttFlags{}
	fs.StringVar(&m.broker, "mqtt-broker", "", "MQTT broker URL (tcp://, ssl:// or mqtts://, ws://, wss://); turns the MQTT output on (default off)")
	fs.StringVar(&m.username, "mqtt-username", "", "MQTT user name")
	fs.StringVar(&m.password, "mqtt-password", "", "MQTT password; prefer $"+MQTTPasswordEnv+" or \"mqtt\": {\"password\"} in the settings file")
	fs.StringVar(&m.clientID, "mqtt-client-id", "", "MQTT client id (default towerd-<hostname>)")
	fs.StringVar(&m.hostname, "mqtt-hostname", "", "server name in MQTT topics and Home Assistant (default the hostname)")
	fs.StringVar(&m.prefix, "mqtt-topic-prefix", "", "MQTT topic prefix: topics are <prefix>/<hostname>/... (default unraid)")
	fs.BoolVar(&m.discovery, "mqtt-discovery", true, "publish Home Assistant MQTT discovery configs")
	fs.StringVar(&m.discoveryPrefix, "mqtt-discovery-prefix", "", "Home Assistant discovery prefix (default homeassistant)")
	fs.BoolVar(&m.readOnly, "mqtt-read-only", false, "ignore MQTT command topics")
	fs.StringVar(&m.statusURL, "mqtt-status-url", "", "status page URL shown in Home Assistant (default http(s)://<bind address or machine hostname>:<port>/)")
	fs.StringVar(&m.tlsCA, "mqtt-tls-ca", "", "PEM CA file to verify the MQTT broker")
	fs.StringVar(&m.tlsCert, "mqtt-tls-cert", "", "PEM client certificate for the MQTT broker")
	fs.StringVar(&m.tlsKey, "mqtt-tls-key", "", "PEM client key for --mqtt-tls-cert")
	return m
}

// resolveMQTT merges flags (given ones win), the environment (password)
// and the file, and fills the status page URL from the listen address.
func resolveMQTT(m *mqttFlags, set map[string]bool, file config.MQTT, bind, port string, https bool, log hclog.Logger) (config.MQTT, error) {
	c := file
	c.Broker = pick(set["mqtt-broker"], m.broker, c.Broker)
	c.Username = pick(set["mqtt-username"], m.username, c.Username)
	c.ClientID = pick(set["mqtt-client-id"], m.clientID, c.ClientID)
	c.Hostname = pick(set["mqtt-hostname"], m.hostname, c.Hostname)
	c.TopicPrefix = pick(set["mqtt-topic-prefix"], m.prefix, c.TopicPrefix)
	c.DiscoveryPrefix = pick(set["mqtt-discovery-prefix"], m.discoveryPrefix, c.DiscoveryPrefix)
	c.StatusURL = pick(set["mqtt-status-url"], m.statusURL, c.StatusURL)
	c.TLSCA = pick(set["mqtt-tls-ca"], m.tlsCA, c.TLSCA)
	c.TLSCert = pick(set["mqtt-tls-cert"], m.tlsCert, c.TLSCert)
	c.TLSKey = pick(set["mqtt-tls-key"], m.tlsKey, c.TLSKey)
	if set["mqtt-broker"] {
		c.Enabled = m.broker != ""
	}
	if set["mqtt-discovery"] {
		d := m.discovery
		c.Discovery = &d
	}
	if set["mqtt-read-only"] {
		c.ReadOnly = m.readOnly
	}
	c.Password = secret(set["mqtt-password"], m.password, MQTTPasswordEnv, c.Password, "MQTT password", log)
	_ = os.Unsetenv(MQTTPasswordEnv) // plugins inherit the environment
	if !c.Enabled {
		return c, nil
	}
	if err := c.Validate(); err != nil {
		return c, errors.New(strings.Replace(err.Error(), "mqtt: ", "MQTT settings: ", 1))
	}
	if c.StatusURL == "" {
		// The machine's name, not the "hostname" label (which may hold
		// spaces): Home Assistant refuses a config whose URL is invalid.
		host := bind
		if ip := net.ParseIP(bind); bind == "" || ip != nil && ip.IsUnspecified() {
			host, _ = os.Hostname()
		}
		scheme := "http"
		if https {
			scheme = "https"
		}
		c.StatusURL = (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/"}).String()
	}
	return c, nil
}

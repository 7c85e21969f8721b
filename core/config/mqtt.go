package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MQTT is the "mqtt" section of the settings file: the MQTT output with
// Home Assistant discovery (see core/mqtt). Off unless Enabled.
type MQTT struct {
	Enabled bool `json:"enabled,omitempty"`
	// Broker is the broker URL: tcp://, ssl:// (or mqtts://, tls://), ws://
	// or wss://, with the port (default 1883, 8883 for TLS).
	Broker   string `json:"broker,omitempty"`
	Username string `json:"username,omitempty"`
	// Password is never logged nor served; $TOWERD_MQTT_PASSWORD overrides it.
	Password string `json:"password,omitempty"`
	// ClientID defaults to towerd-<hostname>.
	ClientID string `json:"client_id,omitempty"`
	// Hostname names this server in topics and in Home Assistant; default
	// the machine's hostname.
	Hostname string `json:"hostname,omitempty"`
	// TopicPrefix defaults to "unraid": topics are <prefix>/<hostname>/….
	TopicPrefix string `json:"topic_prefix,omitempty"`
	// Discovery turns Home Assistant discovery on (default) or off.
	Discovery *bool `json:"discovery,omitempty"`
	// DiscoveryPrefix defaults to "homeassistant".
	DiscoveryPrefix string `json:"discovery_prefix,omitempty"`
	// ReadOnly ignores every command topic (no subscription at all).
	ReadOnly bool `json:"read_only,omitempty"`
	// StatusURL is the device's configuration_url in Home Assistant;
	// default http(s)://<bind address or machine hostname>:<port>/.
	StatusURL string `json:"status_url,omitempty"`
	// TLS files (PEM): CA to verify the broker, client certificate and key.
	TLSCA   string `json:"tls_ca,omitempty"`
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
}

// DiscoveryOn reports whether Home Assistant discovery is on (default true).
func (m MQTT) DiscoveryOn() bool { return m.Discovery == nil || *m.Discovery }

// Validate checks the section: a broker URL of a known scheme when
// enabled, TLS certificate and key together, prefixes that are valid
// MQTT topic levels.
func (m MQTT) Validate() error {
	if m.Enabled && m.Broker == "" {
		return errors.New("mqtt: enabled without a broker URL (e.g. tcp://192.168.1.5:1883)")
	}
	if m.Broker != "" {
		u, err := url.Parse(m.Broker)
		if err != nil {
			return fmt.Errorf("mqtt: broker URL: %v", redactErr(err, m.Broker))
		}
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			return fmt.Errorf("mqtt: broker URL scheme %q: want tcp, ssl, mqtts, ws or wss", u.Scheme)
		}
		if u.Host == "" {
			return errors.New("mqtt: broker URL has no host")
		}
	}
	if (m.TLSCert == "") != (m.TLSKey == "") {
		return errors.New("mqtt: tls_cert and tls_key must be set together")
	}
	for name, p := range map[string]string{"topic_prefix": m.TopicPrefix, "discovery_prefix": m.DiscoveryPrefix, "hostname": m.Hostname} {
		if strings.ContainsAny(p, "+#\x00") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			return fmt.Errorf("mqtt: %s %q: no +, #, NUL, nor a leading or trailing /", name, p)
		}
	}
	if m.StatusURL != "" {
		if u, err := url.Parse(m.StatusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("mqtt: status_url %q: want an http:// or https:// URL", m.StatusURL)
		}
	}
	return nil
}

// redactErr keeps a password written into the broker URL out of the
// message.
func redactErr(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	if i := strings.Index(raw, "@"); i > 0 {
		msg = strings.ReplaceAll(msg, raw[:i], "…")
	}
	return msg
}

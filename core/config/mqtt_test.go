package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestMQTTSection(t *testing.T) {
	c, err := Decode([]byte(`{"mqtt":{"enabled":true,"broker":"mqtts://broker.lan","username":"u","password":"p","discovery":false,"tls_ca":"/ca.pem"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.MQTT.Enabled || c.MQTT.Broker != "mqtts://broker.lan" || c.MQTT.DiscoveryOn() || c.MQTT.TLSCA != "/ca.pem" {
		t.Errorf("decoded %+v", c.MQTT)
	}
	if off, _ := Decode([]byte(`{}`)); off.MQTT.Enabled || !off.MQTT.DiscoveryOn() {
		t.Errorf("defaults: %+v", off.MQTT)
	}
	bad := []struct{ file, want string }{
		{`{"mqtt":{"enabled":true}}`, "without a broker"},
		{`{"mqtt":{"broker":"ftp://x"}}`, "scheme"},
		{`{"mqtt":{"broker":"tcp://"}}`, "no host"},
		{`{"mqtt":{"broker":"tcp://h","tls_cert":"c.pem"}}`, "tls_cert and tls_key"},
		{`{"mqtt":{"topic_prefix":"a/#"}}`, "topic_prefix"},
		{`{"mqtt":{"hostname":"a+b"}}`, "hostname"},
		{`{"mqtt":{"status_url":"tower:8043"}}`, "status_url"},
		{`{"mqtt":{"brokr":"tcp://h"}}`, "unknown field"},
		{`{"mqtt":{"broker":"tcp://user:hunter2@h:1883/%zz"}}`, "broker URL"},
	}
	for _, tc := range bad {
		_, err := Decode([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.file, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the password: %v", tc.file, err)
		}
	}
}

// A change made through the API keeps the mqtt section (and its copy is
// deep: changing the returned settings changes nothing stored).
func TestMQTTSectionSurvivesSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "towerd.json")
	s, _ := Open(path)
	off := false
	if err := s.Update(func(c *Config) { c.MQTT = MQTT{Enabled: true, Broker: "tcp://h:1883", Discovery: &off} }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateCollector("gpu", func(c *Collector) { c.IntervalSeconds = 30 }); err != nil {
		t.Fatal(err)
	}
	got := s.Get()
	*got.MQTT.Discovery = true
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := again.Get().MQTT; !m.Enabled || m.Broker != "tcp://h:1883" || m.DiscoveryOn() || s.Get().MQTT.DiscoveryOn() {
		t.Errorf("after save: %+v", m)
	}
}

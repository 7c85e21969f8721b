package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/config"
)

func TestMQTTFlags(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins.d")
	_ = os.MkdirAll(plugins, 0o755)
	base := []string{"--plugins-dir", plugins, "--config", filepath.Join(dir, "c.json"), "--port", "0", "--bind", "127.0.0.1"}
	cases := []struct {
		args []string
		out  string
	}{
		{[]string{"--mqtt-broker", "ftp://h"}, "MQTT settings: broker URL scheme"},
		{[]string{"--mqtt-broker", "tcp://h:1883", "--mqtt-tls-cert", "c.pem"}, "tls_cert and tls_key"},
		{[]string{"--mqtt-broker", "tcp://h:1883", "--mqtt-topic-prefix", "a/+"}, "topic_prefix"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append(base, tc.args...), &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.out) {
			t.Errorf("towerd %v: exit %d, %q; want 1 and %q", tc.args, code, stderr.String(), tc.out)
		}
	}
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr)
	for _, f := range []string{"-mqtt-broker", "-mqtt-password", "-mqtt-discovery-prefix", "-mqtt-tls-ca", "-mqtt-hostname"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("--help lacks %s", f)
		}
	}
}

// Flags win over the environment, which wins over the file; the password
// variable is removed once read (plugins inherit the environment); the
// status page URL follows the listen address.
func TestResolveMQTT(t *testing.T) {
	parse := func(args ...string) (*mqttFlags, map[string]bool) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		m := addMQTTFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return m, set
	}
	log := hclog.NewNullLogger()
	file := config.MQTT{Enabled: true, Broker: "tcp://file:1883", Password: "file-pw", Hostname: "filehost"}

	t.Setenv(MQTTPasswordEnv, "env-pw")
	m, set := parse("--mqtt-broker", "tcp://flag:1883")
	c, err := resolveMQTT(m, set, file, "", "8043", false, log)
	if err != nil || c.Broker != "tcp://flag:1883" || c.Password != "env-pw" || c.StatusURL != "http://"+hostname(t)+":8043/" {
		t.Errorf("flag broker, env password: %+v %v", c, err)
	}
	if _, ok := os.LookupEnv(MQTTPasswordEnv); ok {
		t.Error("the password variable is still in the environment")
	}

	m, set = parse("--mqtt-password", "flag-pw", "--mqtt-discovery=false", "--mqtt-read-only")
	c, _ = resolveMQTT(m, set, file, "192.168.1.5", "9000", true, log)
	if c.Password != "flag-pw" || c.DiscoveryOn() || !c.ReadOnly || c.StatusURL != "https://192.168.1.5:9000/" {
		t.Errorf("flag password: %+v", c)
	}

	m, set = parse()
	if c, _ = resolveMQTT(m, set, file, "", "8043", false, log); c.Password != "file-pw" || !c.Enabled {
		t.Errorf("file only: %+v", c)
	}
	m, set = parse("--mqtt-broker", "")
	if c, _ = resolveMQTT(m, set, file, "", "8043", false, log); c.Enabled {
		t.Errorf("--mqtt-broker '' should turn MQTT off: %+v", c)
	}
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

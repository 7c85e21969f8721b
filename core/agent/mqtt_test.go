package agent

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/sdk/plugintest"
)

// goroutines returns every goroutine's stack.
func goroutines() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	return b.String()
}

// mqttGoroutines counts goroutines running MQTT code (the output or the
// client library).
func mqttGoroutines() int {
	n := 0
	for _, g := range strings.Split(goroutines(), "\n\n") {
		if strings.Contains(g, "paho.mqtt.golang") || strings.Contains(g, "towerd/core/mqtt.") {
			n++
		}
	}
	return n
}

// fakeBroker accepts TCP connections, counts them and closes them at once
// (only whether towerd dials matters here).
func fakeBroker(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return "tcp://" + ln.Addr().String(), &n
}

func runAgent(t *testing.T, m MQTTOptions) (*Agent, context.CancelFunc, chan error) {
	t.Helper()
	store, err := config.Open(filepath.Join(t.TempDir(), "towerd.json"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Addr: ln.Addr().String(), PluginsDir: t.TempDir(), Config: store, MQTT: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _ = a.Run(ctx, ln); close(done) }()
	plugintest.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, "agent did not serve")
	t.Cleanup(func() { cancel(); <-done })
	return a, cancel, done
}

// MQTT off costs nothing: no goroutine runs MQTT code, the broker named in
// the settings is never dialled, /metrics has no MQTT series. The same
// agent with MQTT on does dial and run MQTT goroutines (so the checks can
// see them), and they are all gone once it stops.
func TestMQTTOffCostsNothing(t *testing.T) {
	offURL, offDials := fakeBroker(t)
	onURL, onDials := fakeBroker(t)

	off, _, _ := runAgent(t, MQTTOptions{Enabled: false, Broker: offURL})
	if n := mqttGoroutines(); n != 0 {
		t.Fatalf("MQTT off, yet %d goroutines run MQTT code:\n%s", n, goroutines())
	}
	if _, on := off.mqttStats(); on {
		t.Error("MQTT off, yet it reports stats")
	}
	rec := httpGet(t, off, "/metrics")
	if strings.Contains(rec, "towerd_mqtt_") {
		t.Error("MQTT off, yet /metrics has MQTT series")
	}

	_, cancel, done := runAgent(t, MQTTOptions{Enabled: true, Broker: onURL, Hostname: "on"})
	plugintest.Eventually(t, 10*time.Second, func() bool { return onDials.Load() > 0 }, "MQTT on never dialled the broker")
	if mqttGoroutines() == 0 {
		t.Error("MQTT on, yet no MQTT goroutine seen: the check above proves nothing")
	}
	if n := offDials.Load(); n != 0 {
		t.Errorf("the agent with MQTT off dialled its broker %d times", n)
	}
	cancel()
	<-done
	plugintest.Eventually(t, 10*time.Second, func() bool { return mqttGoroutines() == 0 },
		"MQTT goroutines left after the agent stopped:\n%s", goroutinesLazy{})
}

type goroutinesLazy struct{}

func (goroutinesLazy) String() string { return goroutines() }

func httpGet(t *testing.T, a *Agent, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + a.opts.Addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

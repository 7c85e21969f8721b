package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

const devOnline = `device.model: "Back-UPS XS 1500G"
device.mfr: "American Power Conversion"
ups.status: OL
battery.charge: 100
battery.runtime: 3600
ups.load: 23
ups.realpower.nominal: 900
input.voltage: 230.4
output.voltage: 229.8
`

// startPlugin builds and starts the real plugin binary and configures it.
func startPlugin(t *testing.T, opts map[string]string) *plugintest.Plugin {
	t.Helper()
	p := plugintest.Start(t, plugintest.Build(t, ".", "ups"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Configure(ctx, sdk.Config{Root: "/", Options: opts}); err != nil {
		t.Fatalf("Configure(%v): %v", opts, err)
	}
	return p
}

func collect(t *testing.T, p *plugintest.Plugin) schema.UPS {
	t.Helper()
	var u schema.UPS
	p.CollectJSON(t, &u)
	return u
}

// waitFor collects until cond holds, with a deadline, and returns the last
// payload.
func waitFor(t *testing.T, p *plugintest.Plugin, what string, cond func(schema.UPS) bool) schema.UPS {
	t.Helper()
	var u schema.UPS
	plugintest.Eventually(t, 20*time.Second, func() bool {
		u = collect(t, p)
		return cond(u)
	}, "UPS never reached %s; last payload %+v", what, &u)
	return u
}

// TestNUT drives a real upsd + dummy-ups through OL → OB → OB LB and checks
// every field the plugin fills, through the real plugin process.
func TestNUT(t *testing.T) {
	n := startNUT(t, 0, devOnline)
	port := strconv.Itoa(n.port)

	t.Run("online", func(t *testing.T) {
		p := startPlugin(t, map[string]string{"driver": "nut", "host": "127.0.0.1", "port": port, "ups": nutUPSName})
		u := waitFor(t, p, "ONLINE", func(u schema.UPS) bool { return u.Connected && u.Status == "ONLINE" })
		want := schema.UPS{
			Connected: true, Model: "Back-UPS XS 1500G", Status: "ONLINE",
			BatteryChargePercent: 100, BatteryRuntimeSeconds: 3600, RuntimeLeftSeconds: 3600,
			LoadPercent: 23, InputVoltage: 230.4, OutputVoltage: 229.8,
			NominalPowerWatts: 900, PowerWatts: 207, // 23 % of 900 W: no ups.realpower reported
		}
		u.Timestamp = time.Time{}
		if u != want {
			t.Fatalf("payload\n got %+v\nwant %+v", u, want)
		}
	})

	t.Run("transitions", func(t *testing.T) {
		p := startPlugin(t, map[string]string{"driver": "nut", "port": port})
		waitFor(t, p, "ONLINE", func(u schema.UPS) bool { return u.Status == "ONLINE" })

		n.setDev(t, strings.NewReplacer("ups.status: OL", "ups.status: OB DISCHRG",
			"battery.charge: 100", "battery.charge: 61", "battery.runtime: 3600", "battery.runtime: 1260").Replace(devOnline)+
			"ups.realpower: 251\n")
		u := waitFor(t, p, "ONBATT", func(u schema.UPS) bool { return u.Status == "ONBATT" })
		if u.BatteryChargePercent != 61 || u.BatteryRuntimeSeconds != 1260 || u.RuntimeLeftSeconds != 1260 || u.PowerWatts != 251 {
			t.Fatalf("on battery: got %+v, want charge 61, runtime 1260, reported power 251", u)
		}

		n.setDev(t, strings.NewReplacer("ups.status: OL", "ups.status: OB LB",
			"battery.charge: 100", "battery.charge: 8", "battery.runtime: 3600", "battery.runtime: 95").Replace(devOnline))
		u = waitFor(t, p, "LOWBATT", func(u schema.UPS) bool { return u.Status == "LOWBATT" })
		if !u.Connected || u.BatteryChargePercent != 8 || u.BatteryRuntimeSeconds != 95 {
			t.Fatalf("low battery: got %+v", u)
		}

		n.setDev(t, devOnline)
		waitFor(t, p, "ONLINE again", func(u schema.UPS) bool { return u.Status == "ONLINE" && u.BatteryChargePercent == 100 })
	})

	t.Run("auto picks the first UPS of LIST UPS", func(t *testing.T) {
		p := startPlugin(t, map[string]string{"nut_port": port, "apcupsd_port": strconv.Itoa(freePort(t))})
		u := waitFor(t, p, "connected", func(u schema.UPS) bool { return u.Connected })
		if u.Model != "Back-UPS XS 1500G" {
			t.Fatalf("auto: got %+v", u)
		}
	})

	t.Run("login", func(t *testing.T) {
		p := startPlugin(t, map[string]string{"driver": "nut", "port": port, "username": "monuser", "password": "secret"})
		// upsd checks the password only for privileged commands, so a
		// successful read after USERNAME/PASSWORD is all there is to see.
		waitFor(t, p, "connected after login", func(u schema.UPS) bool { return u.Connected })
	})

	t.Run("unknown UPS name", func(t *testing.T) {
		p := startPlugin(t, map[string]string{"driver": "nut", "port": port, "ups": "nosuch"})
		if u := collect(t, p); u.Connected || u.Status != "" {
			t.Fatalf("unknown UPS: got %+v, want connected=false", u)
		}
	})
}

// TestAPCUPSD reads a real apcupsd (test driver) over NIS.
func TestAPCUPSD(t *testing.T) {
	a := startAPC(t)
	want := schema.UPS{
		Connected: true, Model: "Test Driver", Status: "ONLINE", // STATUS "ONLINE NOBATT"
		BatteryChargePercent: 100, BatteryRuntimeSeconds: 72000, RuntimeLeftSeconds: 72000, // TIMELEFT 1200.0 Minutes
		LoadPercent: 40.5, InputVoltage: 229.5, OutputVoltage: 228.5,
		NominalPowerWatts: 0, PowerWatts: 0, // NOMPOWER 0 Watts
	}
	for _, tc := range []struct {
		name string
		opts map[string]string
	}{
		{"apcupsd driver", map[string]string{"driver": "apcupsd", "port": strconv.Itoa(a.port)}},
		{"auto falls back from a missing upsd", map[string]string{"nut_port": strconv.Itoa(freePort(t)), "apcupsd_port": strconv.Itoa(a.port)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlugin(t, tc.opts)
			u := waitFor(t, p, "connected", func(u schema.UPS) bool { return u.Connected })
			u.Timestamp = time.Time{}
			if u != want {
				t.Fatalf("payload\n got %+v\nwant %+v", u, want)
			}
		})
	}
}

// TestNoDaemonThenRecovery: no daemon → connected=false on every tick,
// logged once; the daemon appears → connected, logged once.
func TestNoDaemonThenRecovery(t *testing.T) {
	port := freePort(t)
	logs := &plugintest.SyncBuffer{}
	c := newCollector()
	c.log = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	if err := c.Configure(context.Background(), sdk.Config{Options: map[string]string{
		"nut_port": strconv.Itoa(port), "apcupsd_port": strconv.Itoa(freePort(t)), "timeout": "1s"}}); err != nil {
		t.Fatal(err)
	}
	tick := func() schema.UPS {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := c.Collect(ctx)
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		return v.(schema.UPS)
	}
	for i := 0; i < 3; i++ {
		if u := tick(); u.Connected || u.Timestamp.IsZero() {
			t.Fatalf("tick %d without a daemon: %+v", i, u)
		}
	}
	if n := strings.Count(logs.String(), "no UPS available"); n != 1 {
		t.Fatalf("'no UPS available' logged %d times over 3 ticks, want once:\n%s", n, logs.String())
	}
	startNUT(t, port, devOnline)
	plugintest.Eventually(t, 20*time.Second, func() bool { return tick().Connected }, "never reconnected to upsd")
	tick()
	if n := strings.Count(logs.String(), "UPS connected"); n != 1 {
		t.Fatalf("'UPS connected' logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestHangingServer: a daemon that accepts and never answers must not stall
// Collect beyond the per-daemon timeout, in both protocols, in-process and
// through the real plugin process.
func TestHangingServer(t *testing.T) {
	port := strconv.Itoa(hangingServer(t))
	opts := map[string]string{"nut_port": port, "apcupsd_port": port, "timeout": "300ms"}
	p := startPlugin(t, opts)
	for i := 0; i < 2; i++ {
		start := time.Now()
		u := collect(t, p)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Collect took %v against a silent server", d)
		}
		if u.Connected {
			t.Fatalf("silent server: got %+v", u)
		}
	}
	// A Collect deadline shorter than the timeout wins too.
	c := newCollector()
	c.log = hclog.NewNullLogger()
	if err := c.Configure(context.Background(), sdk.Config{Options: map[string]string{"driver": "nut", "port": port}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _ = c.Collect(ctx)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Collect ignored its 200ms deadline: took %v", d)
	}
}

func TestDescribe(t *testing.T) {
	p := plugintest.Start(t, plugintest.Build(t, ".", "ups"))
	info, err := p.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "ups" || info.Topic != schema.TopicUPS || info.DefaultInterval != 10*time.Second {
		t.Fatalf("Describe = %+v", info)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		ok   bool
	}{
		{map[string]string{}, true},
		{map[string]string{"driver": "nut", "port": "13493", "ups": "my-ups.1"}, true},
		{map[string]string{"driver": "apcupsd", "host": "::1", "port": "3551"}, true},
		{map[string]string{"driver": "auto", "nut_port": "1", "apcupsd_port": "65535", "timeout": "2s"}, true},
		{map[string]string{"driver": "usb"}, false},
		{map[string]string{"port": "3493"}, false}, // ambiguous in auto mode
		{map[string]string{"driver": "nut", "port": "0"}, false},
		{map[string]string{"driver": "nut", "port": "http"}, false},
		{map[string]string{"ups": "a b"}, false},
		{map[string]string{"ups": "x\nLIST VAR y"}, false},
		{map[string]string{"username": "u\nLOGOUT"}, false},
		{map[string]string{"timeout": "-1s"}, false},
		{map[string]string{"colour": "red"}, false},
	} {
		_, err := parseOptions(tc.opts)
		if (err == nil) != tc.ok {
			t.Errorf("parseOptions(%v) error %v, want ok=%v", tc.opts, err, tc.ok)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

// netns is a network namespace of the test's own with a veth pair
// v0 (02:00:00:aa:bb:01, 10.123.0.1) ↔ v1 (10.123.0.2).
type netns struct{ name string }

func newNetns(t *testing.T) *netns {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		plugintest.Unavailable(t, "the ip command (iproute2) is not installed")
	}
	n := &netns{name: "towerdnet" + strconv.Itoa(os.Getpid())}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		plugintest.Unavailable(t, "cannot create a network namespace (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	for _, args := range [][]string{
		{"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"link", "set", "v0", "address", "02:00:00:aa:bb:01"},
		{"addr", "add", "10.123.0.1/24", "dev", "v0"},
		{"addr", "add", "10.123.0.2/24", "dev", "v1"},
		{"link", "set", "lo", "up"},
		{"link", "set", "v0", "up"},
		{"link", "set", "v1", "up"},
	} {
		n.ip(t, args...)
	}
	return n
}

func (n *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v %s", args, err, out)
	}
}

// rxBytes reads an interface's received bytes in the namespace.
func (n *netns) rxBytes(t *testing.T, dev string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "-n", n.name, "-s", "-j", "link", "show", dev).Output()
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Stats struct {
			RX struct{ Bytes uint64 } `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j: %v %s", err, out)
	}
	return links[0].Stats.RX.Bytes
}

// start runs the plugin inside the namespace, as `ip netns exec` runs it
// (with the namespace's own /sys), through the real handshake.
func (n *netns) start(t *testing.T) *plugintest.Plugin {
	t.Helper()
	wrapper := filepath.Join(t.TempDir(), "network")
	script := "#!/bin/sh\nexec ip netns exec " + n.name + " " + plugintest.Build(t, ".") + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return plugintest.Start(t, wrapper)
}

func collect(t *testing.T, p *plugintest.Plugin, exclude *string) map[string]schema.NetworkInterface {
	t.Helper()
	if exclude != nil {
		if err := p.Configure(context.Background(), sdk.Config{Options: map[string]string{"exclude": *exclude}}); err != nil {
			t.Fatal(err)
		}
	}
	var list []schema.NetworkInterface
	p.CollectJSON(t, &list)
	out := map[string]schema.NetworkInterface{}
	for _, i := range list {
		out[i.Name] = i
	}
	return out
}

func TestNetworkPluginInNamespace(t *testing.T) {
	ns := newNetns(t)
	p := ns.start(t)

	got := collect(t, p, nil)
	if _, ok := got["lo"]; ok || len(got) != 2 {
		t.Fatalf("default exclude (lo, veth*) should leave v0 and v1: %v", keys(got))
	}
	before := ns.rxBytes(t, "v0")
	none := ""
	got = collect(t, p, &none)
	after := ns.rxBytes(t, "v0")
	v0 := got["v0"]
	if v0.MACAddress != "02:00:00:aa:bb:01" || v0.IPAddress != "10.123.0.1" || v0.State != "up" || v0.SpeedMbps != 10000 {
		t.Errorf("v0 = %+v", v0)
	}
	if v0.BytesReceived < before || v0.BytesReceived > after {
		t.Errorf("v0 bytes_received %d outside the kernel's %d..%d", v0.BytesReceived, before, after)
	}
	if lo := got["lo"]; lo.IPAddress != "127.0.0.1" || lo.State != "up" || lo.MACAddress != "" {
		t.Errorf("lo = %+v", lo)
	}
	if v1 := got["v1"]; v1.IPAddress != "10.123.0.2" || v1.Timestamp.IsZero() {
		t.Errorf("v1 = %+v", v1)
	}

	ns.ip(t, "link", "set", "v1", "down")
	// The kernel passes the peer's loss of carrier on to v0 a moment later
	// (linkwatch), so v0 is polled, not read once.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got = collect(t, p, nil)
		if got["v1"].State == "down" && got["v0"].State == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after v1 down: v0 %q (peer down, no carrier), v1 %q; want both down", got["v0"].State, got["v1"].State)
		}
	}
	if got["v1"].SpeedMbps != 0 {
		t.Errorf("down link speed %d, want 0", got["v1"].SpeedMbps)
	}

	only := "lo, v1"
	if got = collect(t, p, &only); strings.Join(keys(got), ",") != "v0" {
		t.Errorf("exclude %q left %v", only, keys(got))
	}
	bad := "["
	if err := p.Configure(context.Background(), sdk.Config{Options: map[string]string{"exclude": bad}}); err == nil {
		t.Error("bad glob accepted")
	}
}

func keys(m map[string]schema.NetworkInterface) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

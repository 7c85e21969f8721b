// Command testplugin is a collector that misbehaves on purpose, for the
// core's tests. One binary serves every behaviour: the test copies it into
// a plugins directory under a name whose letters choose the mode (digits
// are ignored, so "echo1" and "echo2" are two echo plugins):
//
//	echo      well-behaved: {"n":…,"timestamp":…}; actions "ping", "start"
//	hang      Collect never returns
//	slow      Collect takes option delay_ms, then answers
//	junk      prints junk on stdout instead of the handshake
//	badcookie serves with the wrong magic cookie
//	exit      exits at once with status 3
//	chatty    well-behaved, but writes to stdout on every Collect
//	big       answers with a payload of option size_bytes
//	badjson   answers with bytes that are not JSON
//	crashn    crashes on the option crash_at-th Collect
//	leak      keeps option leak_mb more memory on every Collect
//	newproto  well-behaved, but speaks plugin protocol version sdk.ProtocolVersion+1
//	oldproto  well-behaved, but speaks plugin protocol version sdk.ProtocolVersion-1
//	sametopic well-behaved, topic "sametopic_update" whatever the digits
//	systopic  well-behaved, but claims the built-in topic "system_update"
//	slowconf  well-behaved, but Configure takes option conf_delay_ms
//	bundle    a bundle of two well-behaved collectors, NAME_one and NAME_two
//	dupbundle a bundle whose first collector is called "echo"
//
// Every mode's Act with the target "sleep" creates the file named like the
// executable plus ".acting", then takes option act_delay_ms (default 3000)
// before it answers.
//
// If a file named like the executable plus ".starts" exists, every start
// appends its time (Unix nanoseconds) to it, so tests can count starts.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/towerd/towerd/sdk"
)

type testCollector struct {
	name, mode string
	opts       map[string]string
	n          int
	leaked     [][]byte
}

func (c *testCollector) Describe() sdk.Info {
	topic := c.name + "_update"
	switch c.mode {
	case "sametopic":
		topic = "sametopic_update"
	case "systopic":
		topic = "system_update"
	}
	return sdk.Info{
		Name: c.name, Version: "9.9.9", Topic: topic,
		Description: "test plugin in mode " + c.mode, DefaultInterval: 5 * time.Second,
		Actions: []string{"ping", "start"},
	}
}

func (c *testCollector) Configure(_ context.Context, cfg sdk.Config) error {
	c.opts = cfg.Options
	if c.mode == "slowconf" {
		time.Sleep(time.Duration(c.opt("conf_delay_ms", 0)) * time.Millisecond)
	}
	return nil
}

func (c *testCollector) opt(key string, def int) int {
	if v, err := strconv.Atoi(c.opts[key]); err == nil {
		return v
	}
	return def
}

func (c *testCollector) Collect(ctx context.Context) (any, error) {
	c.n++
	switch c.mode {
	case "hang":
		select {} // ignores ctx: a truly stuck plugin
	case "slow":
		time.Sleep(time.Duration(c.opt("delay_ms", 1000)) * time.Millisecond)
	case "chatty":
		fmt.Println("chatty plugin writes to stdout on collect", c.n)
	case "big":
		return json.RawMessage(`{"timestamp":"` + time.Now().Format(time.RFC3339Nano) + `","pad":"` +
			strings.Repeat("x", c.opt("size_bytes", 16<<20)) + `"}`), nil
	case "crashn":
		if c.n >= c.opt("crash_at", 2) {
			os.Exit(7)
		}
	case "leak":
		chunk := make([]byte, c.opt("leak_mb", 16)<<20)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		c.leaked = append(c.leaked, chunk)
	}
	return map[string]any{"n": c.n, "mode": c.mode, "timestamp": time.Now()}, nil
}

func (c *testCollector) Act(ctx context.Context, a sdk.Action) (string, error) {
	if a.Target == "sleep" {
		_ = os.WriteFile(os.Args[0]+".acting", nil, 0o600) // tells a test the call is in flight
		select {
		case <-time.After(time.Duration(c.opt("act_delay_ms", 3000)) * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if a.Target == "missing" {
		return "", fmt.Errorf("target %q: %w", a.Target, sdk.ErrNotFound)
	}
	return a.Name + " " + a.Target + " ok", nil
}

func main() {
	name := filepath.Base(os.Args[0])
	mode := strings.TrimRight(name, "0123456789")
	c := &testCollector{name: name, mode: mode}
	if f, err := os.OpenFile(os.Args[0]+".starts", os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintln(f, time.Now().UnixNano())
		f.Close()
	}
	switch mode {
	case "junk":
		fmt.Println("hello from a plugin that ignores the protocol")
		time.Sleep(time.Second)
		os.Exit(0)
	case "exit":
		fmt.Fprintln(os.Stderr, "testplugin: exiting at once on purpose")
		os.Exit(3)
	case "badcookie":
		hs := sdk.Handshake
		hs.MagicCookieValue = "wrong"
		plugin.Serve(&plugin.ServeConfig{HandshakeConfig: hs, Plugins: sdk.PluginMap(c), GRPCServer: plugin.DefaultGRPCServer})
		return
	case "badjson":
		serveBadJSON(c)
		return
	case "bundle", "dupbundle":
		one := &testCollector{name: name + "_one", mode: "echo"}
		if mode == "dupbundle" {
			one.name = "echo"
		}
		sdk.Serve(one, &testCollector{name: name + "_two", mode: "echo"})
		return
	case "newproto", "oldproto":
		hs := sdk.Handshake
		hs.ProtocolVersion = sdk.ProtocolVersion + 1
		if mode == "oldproto" {
			hs.ProtocolVersion = sdk.ProtocolVersion - 1
		}
		plugin.Serve(&plugin.ServeConfig{HandshakeConfig: hs, Plugins: sdk.PluginMap(c), GRPCServer: plugin.DefaultGRPCServer})
		return
	}
	sdk.Serve(c)
}

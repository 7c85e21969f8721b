package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// The plugin binary passes towerd's contract checks through the real
// handshake and reports the fixture's numbers.
func TestPluginContract(t *testing.T) {
	bin := plugintest.Build(t, ".")
	proc, _ := filepath.Abs("testdata/proc")
	res := plugintest.Check(t, bin, plugintest.Contract{Config: sdk.Config{Options: map[string]string{"proc": proc}}})
	var p Payload
	if err := json.Unmarshal(res.Payloads[1], &p); err != nil {
		t.Fatal(err)
	}
	if !p.Available || p.CPU.Some.Avg10 != 59.07 || p.CPU.Full == nil || p.IO.Full.TotalUS != 5566754 || p.Memory.Some.Avg300 != 0 {
		t.Errorf("payload %s does not match testdata/proc", res.Payloads[1])
	}

	// Bad options are refused with the code towerd maps to HTTP 400.
	err := res.Plugin.Configure(context.Background(), sdk.Config{Options: map[string]string{"proc": "relative"}})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Configure(proc=relative) = %v, want ErrInvalidArgument", err)
	}
}

// Without PSI the plugin still answers, saying why.
func TestUnavailable(t *testing.T) {
	c := &collector{log: sdk.Logger("psi")}
	if err := c.Configure(context.Background(), sdk.Config{Options: map[string]string{"proc": t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	v, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := v.(Payload)
	if p.Available || !strings.Contains(p.Reason, "pressure") || p.Timestamp.IsZero() || p.CPU != nil {
		t.Errorf("payload %+v, want unavailable with a reason", p)
	}
}

// The parser never panics and either fails or returns a "some" line.
func FuzzReadPressure(f *testing.F) {
	for _, name := range []string{"cpu", "io", "memory"} {
		b, err := os.ReadFile(filepath.Join("testdata/proc/pressure", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("some avg10=x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "p")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := readPressure(path)
		if err == nil && r.Some == nil {
			t.Errorf("no error and no some line for %q", b)
		}
	})
}

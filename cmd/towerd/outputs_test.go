package main

import (
	"bytes"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/core/config"
)

// mDNS and MCP settings: the file's values unless a flag is given.
func TestOutputOptions(t *testing.T) {
	no, yes := false, true
	file := config.Config{
		MDNS: config.MDNS{Name: "FromFile", Mode: "avahi"},
		MCP:  config.MCP{ReadOnly: &no},
	}
	parse := func(args ...string) (*serveFlags, map[string]bool) {
		t.Helper()
		f, fs, err := parseServeFlags(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		return f, set
	}

	f, set := parse()
	m, p, err := outputOptions(f, set, file, true)
	if err != nil || !m.Enabled || m.Name != "FromFile" || m.Mode != "avahi" || !m.TLS || !p.Enabled || p.ReadOnly {
		t.Errorf("file values: %+v %+v %v", m, p, err)
	}
	f, set = parse("--no-mdns", "--mdns-name", "Flag", "--mdns-mode", "builtin", "--mcp-read-only", "--no-mcp")
	m, p, err = outputOptions(f, set, file, false)
	if err != nil || m.Enabled || m.Name != "Flag" || m.Mode != "builtin" || p.Enabled || !p.ReadOnly {
		t.Errorf("flags: %+v %+v %v", m, p, err)
	}
	off := config.Config{MDNS: config.MDNS{Enabled: &no}, MCP: config.MCP{Enabled: &no, ReadOnly: &yes}}
	f, set = parse()
	if m, p, _ = outputOptions(f, set, off, false); m.Enabled || p.Enabled {
		t.Errorf("file turns both off: %+v %+v", m, p)
	}
	f, set = parse("--mdns-mode", "bonjour")
	if _, _, err = outputOptions(f, set, config.Config{}, false); err == nil || !strings.Contains(err.Error(), "--mdns-mode") {
		t.Errorf("bad mode: %v", err)
	}
}

func TestMCPCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"mcp", "--help"}, 0, "Usage: towerd mcp"},
		{[]string{"mcp", "extra"}, 2, "unexpected argument"},
		{[]string{"mcp", "--addr", "ftp://x"}, 2, "address"},
		{[]string{"--help"}, 0, "-no-mdns"},
		{[]string{"--mdns-mode", "x", "--config", filepath.Join(t.TempDir(), "c.json"), "--plugins-dir", t.TempDir()}, 1, "--mdns-mode"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("towerd %v: exit %d, output %q; want exit %d containing %q", tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}

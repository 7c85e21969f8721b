package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "Usage: towerd"},
		{[]string{"--version"}, 0, "towerd "},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--port", "99999", "--config", filepath.Join(dir, "c.json")}, 1, "--port"},
		{[]string{"--log-level", "loud"}, 1, "--log-level"},
		{[]string{"--interval-system", "1", "--config", filepath.Join(dir, "c.json")}, 1, "5 to 86400"},
		{[]string{"--plugins-dir", filepath.Join(dir, "none"), "--config", filepath.Join(dir, "c.json")}, 1, "not a directory"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("towerd %v: exit %d, output %q; want exit %d containing %q",
				tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}

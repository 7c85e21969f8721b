package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("gone.json.last-good", `{"token":"secret",`)
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
		// 18446744079 s wraps to 5.29 s as a time.Duration: checked before multiplying.
		{[]string{"--interval-system", "18446744079", "--config", filepath.Join(dir, "c.json")}, 1, "--interval-system: 18446744079 is out of range"},
		{[]string{"--rate-limit", "NaN", "--config", filepath.Join(dir, "c.json"), "--plugins-dir", dir}, 1, "--rate-limit NaN"},
		{[]string{"--rate-limit", "1e300", "--config", filepath.Join(dir, "c.json"), "--plugins-dir", dir}, 1, "--rate-limit 1e+300"},
		{[]string{"--interval-system", "9223372036854775807", "--config", filepath.Join(dir, "c.json")}, 1, "out of range"},
		{[]string{"--config", write("interval.json", `{"collectors":{"system":{"interval_seconds":18446744074}}}`)}, 1,
			filepath.Join(dir, "interval.json") + ": collectors.system.interval_seconds: 18446744074 is out of range"},
		// A missing file beside a last-good copy that cannot be loaded: the
		// settings (maybe a token) existed; no start on defaults.
		{[]string{"--config", filepath.Join(dir, "gone.json")}, 1, "refusing to start on defaults"},
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

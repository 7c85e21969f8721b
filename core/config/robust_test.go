package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every kind of broken file is an error that names the file and says what
// is wrong, with a line number where there is one.
func TestOpenCorruptFileNamesFileAndProblem(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ body, want string }{
		"empty":        {"", "file is empty"},
		"half-written": {"{\n  \"collectors\": {\n    \"system\": {\"interval_seconds\": 1", "line 3: the file ends in the middle"},
		"syntax":       {"{\n\"port\": 80,,\n}", "line 2: invalid character ','"},
		"wrong type":   {"{\n\"port\": \"eighty\"\n}", "line 2: json: cannot unmarshal string"},
		"unknown key":  {`{"prot": 80}`, `unknown field "prot"`},
		"trailing":     {"{}\n{}", "line 2: unexpected data after the settings object"},
		"bad port":     {`{"port": 70000}`, "port: 70000 is out of range"},
		"half tls":     {`{"tls_cert": "/c.pem"}`, "tls_cert and tls_key must be set together"},
		"negative":     {`{"collectors":{"disk":{"memory_limit_mb":-1}}}`, `collectors.disk.memory_limit_mb: -1 is out of range`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := openRefused(t, tc.body, tc.want)
			if !strings.Contains(err.Error(), "no towerd.json.last-good") {
				t.Errorf("error %q should say there is no last-good copy", err)
			}
		})
	}
}

// writeSettings writes body as a towerd.json in a temporary directory and
// returns its path.
func writeSettings(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "towerd.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openRefused opens a settings file of body, requires an error that names
// the file and contains want, and returns it for further checks.
func openRefused(t *testing.T, body, want string) error {
	t.Helper()
	path := writeSettings(t, body)
	_, err := Open(path)
	if err == nil {
		t.Fatalf("Open accepted %q", body)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q should name %s and contain %q", err, path, want)
	}
	return err
}

// A file that loaded once is kept as the last-good copy; when the file
// later breaks, Open runs on that copy, says why, and the next save moves
// the corrupt file aside and writes a good one atomically.
func TestCorruptFileFallsBackToLastGood(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "towerd.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(c *Config) { c.Token = "secret"; c.Port = 9000 }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateCollector("vm", func(c *Collector) { f := false; c.Enabled = &f }); err != nil {
		t.Fatal(err)
	}
	half := []byte(`{"token":"secret","port":9000,"collectors":{"vm":{"enab`)
	if err := os.WriteFile(path, half, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("Open with a last-good copy: %v", err)
	}
	if rec := s2.Recovered(); rec == nil || !strings.Contains(rec.Error(), path) {
		t.Errorf("Recovered() = %v, want the problem naming %s", rec, path)
	}
	cfg := s2.Get()
	if cfg.Token != "secret" || cfg.Port != 9000 || s2.Collector("vm").IsEnabled() {
		t.Errorf("settings from last-good copy = %+v", cfg)
	}
	if err := s2.UpdateCollector("gpu", func(c *Collector) { c.IntervalSeconds = 20 }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path + CorruptSuffix); string(b) != string(half) {
		t.Errorf("corrupt file not kept aside: %q", b)
	}
	s3, err := Open(path)
	if err != nil || s3.Recovered() != nil {
		t.Fatalf("after save: %v / %v", err, s3.Recovered())
	}
	if s3.Collector("gpu").IntervalSeconds != 20 || s3.Collector("vm").IsEnabled() || s3.Get().Token != "secret" {
		t.Errorf("after save: %+v", s3.Get())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".towerd-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode %v, want 0600 (it may hold the token)", st.Mode().Perm())
	}
}

// A save that cannot complete leaves the settings in memory and on disk
// as they were.
func TestFailedSaveKeepsSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "towerd.json")
	s, _ := Open(path)
	if err := s.Update(func(c *Config) { c.Port = 1234 }); err != nil {
		t.Fatal(err)
	}
	// Saving under a path whose parent is a regular file fails, for root
	// too.
	if err := os.WriteFile(filepath.Join(dir, "notadir"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.path = filepath.Join(dir, "notadir", "towerd.json")
	if err := s.Update(func(c *Config) { c.Port = 4321 }); err == nil || !strings.Contains(err.Error(), "save config") {
		t.Fatalf("Update error = %v, want a save error", err)
	}
	if s.Get().Port != 1234 {
		t.Errorf("in-memory port = %d after a failed save, want 1234", s.Get().Port)
	}
}

// Decode never panics, and whatever it accepts survives a save and a
// reload unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"collectors":{"system":{"interval_seconds":5,"options":{"a":"b"}}}}`,
		`{"bind":"127.0.0.1","port":8043,"token":"x","cors_origin":"*","rate_limit":-1}`,
		`{"collectors":{"vm":{"enabled":false,"memory_limit_mb":64}}}`, "{\n\"port\": 80,,\n}", `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Decode(b)
		if err != nil {
			return
		}
		out, err := encode(cfg)
		if err != nil {
			t.Fatalf("encode accepted config: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of saved config: %v\n%s", err, out)
		}
		out2, _ := encode(again)
		if string(out) != string(out2) {
			t.Fatalf("save/reload changed the settings:\n%s\n%s", out, out2)
		}
	})
}

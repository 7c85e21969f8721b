package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingFileGivesDefaults(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "nope", "towerd.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Collector("system"); !c.IsEnabled() || c.IntervalSeconds != 0 {
		t.Errorf("default collector %+v", c)
	}
}

func TestUpdatePersistsAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "towerd.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	if err := s.UpdateCollector("gpu", func(c *Collector) { c.Enabled = &off; c.IntervalSeconds = 30 }); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := again.Collector("gpu"); c.IsEnabled() || c.IntervalSeconds != 30 {
		t.Errorf("reloaded %+v", c)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "towerd.json" && e.Name() != "towerd.json.last-good" {
			t.Errorf("temporary file left beside the config: %s", e.Name())
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600 (it may hold the token)", st.Mode().Perm())
	}
}

func TestGetReturnsACopy(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "c.json"))
	_ = s.UpdateCollector("x", func(c *Collector) { c.Options = map[string]string{"a": "1"} })
	cfg := s.Get()
	cfg.Collectors["x"].Options["a"] = "changed"
	if s.Collector("x").Options["a"] != "1" {
		t.Error("Get exposed the store's map")
	}
}

func TestBadFilesNameTheProblem(t *testing.T) {
	cases := map[string]string{
		"empty":       "",
		"half":        "{\n  \"collectors\": {\n    \"system\": {\"enabled\": tr",
		"syntax":      "{\n\n  \"collectors\": {,}\n}",
		"unknown key": `{"colectors": {}}`,
		"wrong type":  `{"collectors": {"system": {"interval_seconds": "5"}}}`,
		"negative":    `{"collectors": {"system": {"interval_seconds": -5}}}`,
	}
	wants := map[string]string{
		"empty": "empty", "half": "ends in the middle", "syntax": "line 3", "unknown key": "colectors",
		"wrong type": "interval_seconds", "negative": "collectors.system.interval_seconds: -5 is out of range",
	}
	for name, body := range cases {
		path := filepath.Join(t.TempDir(), "towerd.json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), wants[name]) {
			t.Errorf("%s: error %v, want it to name %s and %q", name, err, path, wants[name])
		}
	}
}

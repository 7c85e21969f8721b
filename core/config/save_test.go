package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/towerd/towerd/core/coretest"
)

// The reproduction from issue 13 item 8: running on the last-good copy
// (the settings file is corrupt), a save on a full disk failed after the
// corrupt file had been renamed away, and the next start found no file
// and ran on defaults, without the token. Now the failed save leaves the
// file where it was, and the next start runs on the last-good copy again,
// with the token.
func TestFailedSaveOnFullDiskKeepsToken(t *testing.T) {
	dir := coretest.TinyFS(t, "8k")
	path := filepath.Join(dir, "towerd.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(c *Config) { c.Token = "keep-me" }); err != nil {
		t.Fatal(err)
	}
	corrupt := []byte(`{"token":"keep-me",`)
	if err := os.WriteFile(path, corrupt, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil || s.Recovered() == nil || s.Get().Token != "keep-me" {
		t.Fatalf("Open on the corrupt file: %v, recovered %v, token %q", err, s.Recovered(), s.Get().Token)
	}
	coretest.Fill(t, dir)
	err = s.UpdateCollector("gpu", func(c *Collector) { c.IntervalSeconds = 30 })
	if err == nil {
		t.Fatal("save on a full disk succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Logf("save error: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, corrupt) {
		t.Errorf("after the failed save the settings file is %q (%v), want it untouched", b, err)
	}
	again, err := Open(path)
	if err != nil {
		t.Fatalf("next start: %v", err)
	}
	if again.Get().Token != "keep-me" {
		t.Errorf("next start runs without the token: %+v", again.Get())
	}
	// (That the next good save keeps the corrupt file aside is
	// TestCorruptFileFallsBackToLastGood; 8 KiB leave no room for it.)
}

// A missing settings file with a last-good copy beside it loads the copy
// (and says so) rather than the defaults.
func TestMissingFileLoadsLastGood(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "towerd.json")
	if err := os.WriteFile(path+LastGoodSuffix, []byte(`{"token":"from-last-good","port":9000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.Get(); cfg.Token != "from-last-good" || cfg.Port != 9000 {
		t.Errorf("settings %+v, want the last-good copy's", cfg)
	}
	if rec := s.Recovered(); rec == nil || !strings.Contains(rec.Error(), "missing") {
		t.Errorf("Recovered() = %v, want it to say the file is missing", rec)
	}
	if err := s.Update(func(c *Config) { c.Port = 9001 }); err != nil {
		t.Fatal(err)
	}
	if again, err := Open(path); err != nil || again.Recovered() != nil || again.Get().Token != "from-last-good" || again.Get().Port != 9001 {
		t.Errorf("after a save: %v %+v", err, again.Get())
	}
}

// A missing settings file whose last-good copy cannot be loaded is an
// error: settings existed, and defaults would drop them (and the token).
func TestMissingFileWithBadLastGoodRefuses(t *testing.T) {
	t.Parallel()
	for name, write := range map[string]func(string) error{
		"corrupt":    func(p string) error { return os.WriteFile(p, []byte(`{"token":"x",`), 0o600) },
		"unreadable": func(p string) error { return os.Mkdir(p, 0o700) }, // a directory: read fails, for root too
	} {
		path := filepath.Join(t.TempDir(), "towerd.json")
		if err := write(path + LastGoodSuffix); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "refusing to start on defaults") {
			t.Errorf("%s last-good: Open error %v", name, err)
		}
	}
}

// Package config loads and atomically saves towerd's settings file: the
// server options and, per collector, whether it is enabled, its interval
// and its options. Changes made at run time through the API are written
// here so that a restart keeps them.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// DefaultPath is where Unraid keeps plugin settings on the flash drive.
const DefaultPath = "/boot/config/plugins/towerd/towerd.json"

// Config is the settings file.
type Config struct {
	// Server settings; flags override them.
	Bind  string `json:"bind,omitempty"`
	Port  int    `json:"port,omitempty"`
	Token string `json:"token,omitempty"`
	// Collectors by name.
	Collectors map[string]Collector `json:"collectors"`
}

// Collector is one collector's settings. Zero values mean "default".
type Collector struct {
	Enabled         *bool             `json:"enabled,omitempty"`
	IntervalSeconds int               `json:"interval_seconds,omitempty"`
	TimeoutSeconds  int               `json:"timeout_seconds,omitempty"`
	Options         map[string]string `json:"options,omitempty"`
}

// IsEnabled reports the enabled flag, true when unset.
func (c Collector) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Store holds the current settings and the file they live in.
type Store struct {
	path string
	mu   sync.Mutex
	cfg  Config
}

// Open reads path. A missing file is not an error: the defaults are used
// and the file is created on the first change. A file that cannot be parsed
// is an error naming the file and the problem.
func Open(path string) (*Store, error) {
	s := &Store{path: path, cfg: Config{Collectors: map[string]Collector{}}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := decode(b, &s.cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return s, nil
}

func decode(b []byte, cfg *Config) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("file is empty (a write was interrupted?)")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("file ends in the middle of the JSON (truncated or half-written)")
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
			return fmt.Errorf("line %d: %v", line, err)
		}
		return err
	}
	if cfg.Collectors == nil {
		cfg.Collectors = map[string]Collector{}
	}
	for name, c := range cfg.Collectors {
		if c.IntervalSeconds < 0 || c.TimeoutSeconds < 0 {
			return fmt.Errorf("collector %q: negative interval or timeout", name)
		}
	}
	return nil
}

// Path is the file the store saves to.
func (s *Store) Path() string { return s.path }

// Get returns a copy of the current settings.
func (s *Store) Get() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.clone()
}

// Collector returns one collector's settings.
func (s *Store) Collector(name string) Collector {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Collectors[name]
}

// Update applies fn to a copy of the settings and saves the result. If the
// save fails the settings in memory are left as they were.
func (s *Store) Update(fn func(*Config)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.cfg.clone()
	fn(&next)
	if err := writeAtomic(s.path, next); err != nil {
		return err
	}
	s.cfg = next
	return nil
}

// UpdateCollector is Update for one collector.
func (s *Store) UpdateCollector(name string, fn func(*Collector)) error {
	return s.Update(func(c *Config) {
		cc := c.Collectors[name]
		fn(&cc)
		c.Collectors[name] = cc
	})
}

func (c Config) clone() Config {
	out := c
	out.Collectors = make(map[string]Collector, len(c.Collectors))
	for k, v := range c.Collectors {
		if v.Enabled != nil {
			e := *v.Enabled
			v.Enabled = &e
		}
		if v.Options != nil {
			opts := make(map[string]string, len(v.Options))
			for ok, ov := range v.Options {
				opts[ok] = ov
			}
			v.Options = opts
		}
		out.Collectors[k] = v
	}
	return out
}

// writeAtomic writes cfg to a temporary file in the same directory, syncs
// it and renames it over path, so a crash leaves the old or the new file,
// never half of one.
func writeAtomic(path string, cfg Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".towerd-*.json")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil { // may hold the API token
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Names returns the configured collector names, sorted.
func (c Config) Names() []string {
	names := make([]string, 0, len(c.Collectors))
	for n := range c.Collectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

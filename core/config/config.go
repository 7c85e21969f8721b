// Package config loads and atomically saves towerd's settings file: the
// server options and, per collector, whether it is enabled, its interval
// and its options. Changes made at run time through the API are written
// here so that a restart keeps them.
//
// The file is read once, at startup. Every write goes to a temporary file
// in the same directory, is fsynced and renamed over the old one, so a
// crash leaves the old or the new file, never half of one. A copy of the
// last file that loaded or saved cleanly is kept beside it
// (<file>.last-good). At startup a corrupt file (bad JSON, an unknown key,
// a bad value) is an error naming the file, the line and the problem; if a
// last-good copy exists towerd runs on it and says so (Recovered), and the
// corrupt file is kept as <file>.corrupt when the next save replaces it;
// without one towerd refuses to start rather than run on defaults (which
// would, for one, drop a configured token). A missing file with a
// last-good copy beside it loads that copy. No save ever removes the only
// copy of the settings before its replacement is on disk. Numeric
// settings are checked against the bounds in limits.go, shared with the
// API. At run time nothing re-reads the file, so a hand edit that breaks
// it changes nothing until the next start.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/towerd/towerd/internal/atomicfile"
)

// DefaultPath is where Unraid keeps plugin settings on the flash drive.
const DefaultPath = "/boot/config/plugins/towerd/towerd.json"

// Config is the settings file.
type Config struct {
	// Server settings; flags override them.
	Bind  string `json:"bind,omitempty"`
	Port  int    `json:"port,omitempty"`
	Token string `json:"token,omitempty"`
	// CORSOrigin is a comma-separated list of allowed browser origins ("*"
	// for any).
	CORSOrigin string `json:"cors_origin,omitempty"`
	// AllowedHosts is a comma-separated list of extra names the server may
	// be reached by when no token is set ("*" for any); IP addresses,
	// localhost and the machine's host name always work.
	AllowedHosts string `json:"allowed_hosts,omitempty"`
	// TLSCert and TLSKey are PEM files; both set turns on HTTPS.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// RateLimit is requests per second per client address (loopback
	// exempt); 0 means the default, negative turns the limit off.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// PowerActions allows POST /system/reboot and /system/shutdown. Off by
	// default: a dashboard button must not power a server off by surprise.
	PowerActions bool `json:"power_actions,omitempty"`
	// MQTT is the MQTT output (mqtt.go); off by default.
	MQTT MQTT `json:"mqtt,omitzero"`
	// MDNS is the zeroconf announcement; MCP the MCP server.
	MDNS MDNS `json:"mdns,omitzero"`
	MCP  MCP  `json:"mcp,omitzero"`
	// LogFile is towerd's log (rotated at LogMaxSizeMB, one backup kept);
	// empty: stderr. LogLevel is trace, debug, info, warn or error.
	LogFile      string `json:"log_file,omitempty"`
	LogMaxSizeMB int    `json:"log_max_size_mb,omitempty"`
	LogLevel     string `json:"log_level,omitempty"`
	// Collectors by name.
	Collectors map[string]Collector `json:"collectors"`
}

// MDNS configures the zeroconf (mDNS/DNS-SD) announcement of the API.
type MDNS struct {
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// Name is the instance name shown to browsers (default: host name).
	Name string `json:"name,omitempty"`
	// Mode: "auto" (default; avahi-daemon when it runs, else towerd's own
	// responder), "avahi" or "builtin".
	Mode string `json:"mode,omitempty"`
}

// IsEnabled reports the enabled flag, true when unset.
func (m MDNS) IsEnabled() bool { return m.Enabled == nil || *m.Enabled }

// MCP configures the Model Context Protocol server on /mcp.
type MCP struct {
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// ReadOnly defaults to true: action tools are not listed and refused.
	ReadOnly *bool `json:"read_only,omitempty"`
}

// IsEnabled reports the enabled flag, true when unset.
func (m MCP) IsEnabled() bool { return m.Enabled == nil || *m.Enabled }

// IsReadOnly reports the read_only flag, true when unset.
func (m MCP) IsReadOnly() bool { return m.ReadOnly == nil || *m.ReadOnly }

// Collector is one collector's settings. Zero values mean "default".
type Collector struct {
	Enabled         *bool `json:"enabled,omitempty"`
	IntervalSeconds int   `json:"interval_seconds,omitempty"`
	TimeoutSeconds  int   `json:"timeout_seconds,omitempty"`
	// MemoryLimitMB caps the plugin's resident memory; over it the plugin
	// is restarted. 0 means the supervisor's default.
	MemoryLimitMB int               `json:"memory_limit_mb,omitempty"`
	Options       map[string]string `json:"options,omitempty"`
}

// IsEnabled reports the enabled flag, true when unset.
func (c Collector) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Store holds the current settings and the file they live in.
type Store struct {
	path      string
	mu        sync.Mutex
	cfg       Config
	recovered error // why the last-good copy is in use; nil normally
}

// LastGoodSuffix and CorruptSuffix name the files kept beside the settings
// file.
const (
	LastGoodSuffix = ".last-good"
	CorruptSuffix  = ".corrupt"
)

// Open reads path. A missing file with no last-good copy beside it is not
// an error: the defaults are used and the file is created on the first
// change. A file that is missing or cannot be parsed falls back on the
// last-good copy: Open succeeds with it and Recovered reports the problem.
// Without a usable last-good copy, a file that cannot be parsed is an
// error naming the file and the problem, and so is a missing file whose
// last-good copy cannot be read: the settings existed (perhaps with a
// token) and running on defaults would silently drop them.
func Open(path string) (*Store, error) {
	s := &Store{path: path, cfg: Config{Collectors: map[string]Collector{}}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		good, gerr := os.ReadFile(path + LastGoodSuffix)
		if errors.Is(gerr, fs.ErrNotExist) {
			return s, nil
		}
		missing := fmt.Errorf("config %s is missing but %s%s exists", path, filepath.Base(path), LastGoodSuffix)
		if gerr != nil {
			return nil, fmt.Errorf("%w and cannot be read (%v); refusing to start on defaults", missing, gerr)
		}
		if gerr := decode(good, &s.cfg); gerr != nil {
			return nil, fmt.Errorf("%w and is bad (%v); refusing to start on defaults", missing, gerr)
		}
		s.recovered = missing
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := decode(b, &s.cfg); err != nil {
		bad := fmt.Errorf("config %s: %w", path, err)
		good, gerr := os.ReadFile(path + LastGoodSuffix)
		if gerr != nil {
			return nil, fmt.Errorf("%w (and no %s%s to fall back on; fix or remove the file)", bad, filepath.Base(path), LastGoodSuffix)
		}
		s.cfg = Config{}
		if gerr := decode(good, &s.cfg); gerr != nil {
			return nil, fmt.Errorf("%w (and %s%s is bad too: %v)", bad, path, LastGoodSuffix, gerr)
		}
		s.recovered = bad
		return s, nil
	}
	if old, err := os.ReadFile(path + LastGoodSuffix); err != nil || !bytes.Equal(old, b) {
		_ = writeFileAtomic(path+LastGoodSuffix, b) // best effort: only a fallback
	}
	return s, nil
}

// Recovered returns the problem with the settings file when Open fell back
// on the last-good copy, else nil.
func (s *Store) Recovered() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// Decode parses a settings file as Open does, for validation and tests.
func Decode(b []byte) (Config, error) {
	var c Config
	err := decode(b, &c)
	return c, err
}

func decode(b []byte, cfg *Config) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("file is empty (a write was interrupted?)")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	lineAt := func(off int64) int { return 1 + bytes.Count(b[:min(int(off), len(b))], []byte("\n")) }
	if err := dec.Decode(cfg); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("line %d: %v", lineAt(se.Offset), err)
		case errors.As(err, &te):
			return fmt.Errorf("line %d: %v", lineAt(te.Offset), err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("line %d: the file ends in the middle of the settings (a write was interrupted?)", lineAt(int64(len(b))))
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("line %d: unexpected data after the settings object", lineAt(dec.InputOffset()))
	}
	if cfg.Collectors == nil {
		cfg.Collectors = map[string]Collector{}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("tls_cert and tls_key must be set together")
	}
	if err := cfg.MQTT.Validate(); err != nil {
		return err
	}
	switch cfg.MDNS.Mode {
	case "", "auto", "avahi", "builtin":
	default:
		return fmt.Errorf("mdns.mode %q: want auto, avahi or builtin", cfg.MDNS.Mode)
	}
	return cfg.validate()
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
	if err := next.validate(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	b, err := encode(next)
	if err != nil {
		return err
	}
	if s.recovered != nil {
		s.keepCorrupt()
	}
	// The new file replaces the old one by rename only once it is written
	// and synced: a failed save (a full disk) leaves the old file, corrupt
	// or not, where it was, so the next start finds what it found before.
	if err := writeFileAtomic(s.path, b); err != nil {
		return err
	}
	_ = writeFileAtomic(s.path+LastGoodSuffix, b)
	s.cfg, s.recovered = next, nil
	return nil
}

// keepCorrupt keeps the file that failed to load for inspection, as
// <file>.corrupt, without ever removing it: a hard link costs no space
// (the disk may be full), a copy is the fallback. Best effort.
func (s *Store) keepCorrupt() {
	dst := s.path + CorruptSuffix
	_ = os.Remove(dst)
	if err := os.Link(s.path, dst); err == nil || errors.Is(err, fs.ErrNotExist) {
		return
	}
	if b, err := os.ReadFile(s.path); err == nil {
		_ = writeFileAtomic(dst, b)
	}
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
	out.MQTT.Discovery = clonePtr(c.MQTT.Discovery)
	out.MDNS.Enabled = clonePtr(c.MDNS.Enabled)
	out.MCP.Enabled, out.MCP.ReadOnly = clonePtr(c.MCP.Enabled), clonePtr(c.MCP.ReadOnly)
	out.Collectors = make(map[string]Collector, len(c.Collectors))
	for k, v := range c.Collectors {
		v.Enabled, v.Options = clonePtr(v.Enabled), maps.Clone(v.Options)
		out.Collectors[k] = v
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func encode(cfg Config) ([]byte, error) {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("save config: %w", err)
	}
	return append(b, '\n'), nil
}

// writeFileAtomic writes path so that a crash leaves the old or the new
// file, never half of one; owner-only, as it may hold the API token.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("save config: %w", err)
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

package diag

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/towerd/towerd/core/supervisor"
)

// BundlePath is where the diagnostics bundle is served, under /api/v1.
const BundlePath = "/diagnostics/bundle"

// Redacted replaces every secret in a bundle.
const Redacted = "REDACTED"

// Source is what a diagnostics bundle is made of. Every func may be nil.
type Source struct {
	Version    string
	Settings   func() any      // the settings file's content; secrets are redacted by key name
	Collectors func() any      // collector states with their last errors
	LogTail    func() []string // the last log lines
	PluginsDir string
	Root       string // Unraid state root (for the Unraid version)
	// Secrets are values that must not appear anywhere in the bundle (the
	// token in force, which may come from the environment rather than the
	// settings file).
	Secrets []string
}

// secretKey matches settings keys whose values are secrets, whatever
// collector or output they belong to (token, password, mqtt_password,
// client_secret, api_key …).
var secretKey = regexp.MustCompile(`(?i)(pass(word|wd)?|token|secret|credential|api_?key|private_?key)`)

// WriteBundle writes the zip: versions.json, settings.json (secrets
// redacted), collectors.json, log.txt, plugins.json (with SHA-256 and
// whether SHA256SUMS agrees) and os.json. Every secret value found in the
// settings, and every one in s.Secrets, is also scrubbed from every file,
// so a log line quoting one does not leak it.
func WriteBundle(w io.Writer, s Source) error {
	secrets := append([]string(nil), s.Secrets...)
	var settings any
	if s.Settings != nil {
		// Through JSON, so the walk sees the file's keys, not Go's names.
		b, err := json.Marshal(s.Settings())
		if err != nil {
			return fmt.Errorf("settings: %w", err)
		}
		if err := json.Unmarshal(b, &settings); err != nil {
			return fmt.Errorf("settings: %w", err)
		}
		settings = redact(settings, &secrets)
	}
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{"versions.json", func() ([]byte, error) {
			return jsonOf(map[string]string{"towerd": s.Version, "go": runtime.Version(), "os_arch": runtime.GOOS + "/" + runtime.GOARCH})
		}},
		{"settings.json", func() ([]byte, error) { return jsonOf(settings) }},
		{"collectors.json", func() ([]byte, error) {
			if s.Collectors == nil {
				return jsonOf([]any{})
			}
			return jsonOf(s.Collectors())
		}},
		{"log.txt", func() ([]byte, error) {
			if s.LogTail == nil {
				return nil, nil
			}
			return []byte(strings.Join(s.LogTail(), "\n") + "\n"), nil
		}},
		{"plugins.json", func() ([]byte, error) { return jsonOf(plugins(s.PluginsDir)) }},
		{"os.json", func() ([]byte, error) { return jsonOf(osFacts(s.Root)) }},
	}
	z := zip.NewWriter(w)
	now := time.Now()
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		data = scrub(data, secrets)
		fw, err := z.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return z.Close()
}

// BundleHandler serves the bundle as a zip download.
func BundleHandler(s func() Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var buf bytes.Buffer
		if err := WriteBundle(&buf, s()); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			b, _ := json.Marshal(map[string]any{"success": false, "message": "diagnostics bundle: " + err.Error()})
			_, _ = w.Write(b)
			return
		}
		host, _ := os.Hostname()
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, FileName(host, time.Now())))
		_, _ = w.Write(buf.Bytes())
	})
}

// FileName is the bundle's suggested file name.
func FileName(host string, t time.Time) string {
	host = regexp.MustCompile(`[^A-Za-z0-9._-]`).ReplaceAllString(host, "_")
	if host == "" {
		host = "host"
	}
	return "towerd-diagnostics-" + host + "-" + t.UTC().Format("20060102-150405") + ".zip"
}

func jsonOf(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// redact replaces the values of secret-named keys, at any depth, and
// records them so scrub can remove them elsewhere.
func redact(v any, found *[]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secretKey.MatchString(k) {
				if s, ok := e.(string); ok && s != "" {
					*found = append(*found, s)
					x[k] = Redacted
					continue
				}
			}
			x[k] = redact(e, found)
		}
	case []any:
		for i, e := range x {
			x[i] = redact(e, found)
		}
	}
	return v
}

// scrub replaces each secret in data. Very short values (under 4 bytes)
// are left: replacing them would garble the bundle and they are redacted
// in settings.json anyway.
func scrub(data []byte, secrets []string) []byte {
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, s := range secrets {
		if len(s) >= 4 {
			data = bytes.ReplaceAll(data, []byte(s), []byte(Redacted))
			// JSON escapes some characters; catch the escaped form too.
			if q, err := json.Marshal(s); err == nil {
				if esc := q[1 : len(q)-1]; !bytes.Equal(esc, []byte(s)) {
					data = bytes.ReplaceAll(data, esc, []byte(Redacted))
				}
			}
		}
	}
	return data
}

// Plugin is one file of the plugins directory.
type Plugin struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256,omitempty"`
	// Listed is what SHA256SUMS says: "ok", "mismatch", "unlisted", or
	// "no SHA256SUMS".
	Listed string `json:"sha256sums"`
	Error  string `json:"error,omitempty"`
}

func plugins(dir string) any {
	if dir == "" {
		return []Plugin{}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return map[string]string{"dir": dir, "error": err.Error()}
	}
	// The supervisor's own reading of SHA256SUMS, so the bundle says what
	// the supervisor will decide.
	var sums map[string][]byte
	b, err := os.ReadFile(filepath.Join(dir, supervisor.SumsFile))
	hasSums := err == nil
	if hasSums {
		if sums, err = supervisor.ParseSums(b); err != nil {
			return map[string]string{"dir": dir, "error": supervisor.SumsFile + ": " + err.Error()}
		}
	}
	out := []Plugin{}
	for _, e := range entries {
		if e.IsDir() || e.Name() == supervisor.SumsFile || e.Name() == "README.md" {
			continue
		}
		p := Plugin{Name: e.Name()}
		if info, err := e.Info(); err == nil {
			p.Size, p.Mode = info.Size(), info.Mode().String()
		}
		if sum, err := fileSHA256(filepath.Join(dir, e.Name())); err != nil {
			p.Error = err.Error()
		} else {
			p.SHA256 = sum
		}
		switch want, ok := sums[e.Name()]; {
		case !hasSums:
			p.Listed = "no SHA256SUMS"
		case !ok:
			p.Listed = "unlisted"
		case hex.EncodeToString(want) == p.SHA256:
			p.Listed = "ok"
		default:
			p.Listed = "mismatch"
		}
		out = append(out, p)
	}
	return out
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// osFacts are the host's kernel, distribution, Unraid version, CPUs,
// memory and uptime, and the core's own runtime figures.
func osFacts(root string) map[string]any {
	host, _ := os.Hostname()
	facts := map[string]any{
		"hostname": host,
		"kernel":   firstLine("/proc/sys/kernel/osrelease"),
		"os":       osRelease("/etc/os-release"),
		"cpus":     runtime.NumCPU(),
		"uptime":   firstLine("/proc/uptime"),
		"memory":   meminfo("/proc/meminfo", "MemTotal", "MemAvailable"),
		"runtime":  Snapshot(),
	}
	if root != "" {
		facts["root"] = root
		if v := firstLine(filepath.Join(root, "etc/unraid-version")); v != "" {
			facts["unraid_version"] = strings.Trim(strings.TrimPrefix(v, "version="), `"`)
		}
	}
	return facts
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

func osRelease(path string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func meminfo(path string, keys ...string) map[string]string {
	out := map[string]string{}
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && slices.Contains(keys, k) {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

package diag

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unzip returns every file of a bundle by name.
func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(r)
		r.Close()
		out[f.Name] = string(data)
	}
	return out
}

// Secrets are redacted by key name at any depth (the MQTT output's
// password included, whatever branch adds it) and scrubbed from every
// other file, log lines included.
func TestBundleRedacts(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"system": "one", "disk": "two", "extra": "three"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sumOne, _ := fileSHA256(filepath.Join(dir, "system"))
	sums := sumOne + "  system\n" + strings.Repeat("0", 64) + "  disk\n"
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{
		"token": "tok-SECRET-123",
		"mqtt":  map[string]any{"broker": "tcp://10.0.0.2:1883", "username": "ha", "password": "mq\"tt-p@ss"},
		"collectors": map[string]any{
			"ups": map[string]any{"options": map[string]string{"password": "upsmon-pw", "host": "127.0.0.1"}},
		},
		"webhooks": []any{map[string]any{"client_secret": "hook-secret"}},
	}
	var buf bytes.Buffer
	err := WriteBundle(&buf, Source{
		Version:    "1.2.3",
		Settings:   func() any { return settings },
		Collectors: func() any { return []map[string]string{{"name": "ups", "last_error": "auth with upsmon-pw refused"}} },
		LogTail:    func() []string { return []string{"connecting with token tok-SECRET-123", "env-token-xyz used"} },
		PluginsDir: dir,
		Secrets:    []string{"env-token-xyz"},
	})
	if err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	for _, name := range []string{"versions.json", "settings.json", "collectors.json", "log.txt", "plugins.json", "os.json"} {
		if files[name] == "" {
			t.Errorf("bundle lacks %s", name)
		}
	}
	for name, data := range files {
		for _, secret := range []string{"tok-SECRET-123", "mq\"tt-p@ss", `mq\"tt-p@ss`, "upsmon-pw", "hook-secret", "env-token-xyz"} {
			if strings.Contains(data, secret) {
				t.Errorf("%s holds the secret %q:\n%s", name, secret, data)
			}
		}
	}
	for _, keep := range []string{"tcp://10.0.0.2:1883", `"username": "ha"`, `"host": "127.0.0.1"`, `"password": "REDACTED"`} {
		if !strings.Contains(files["settings.json"], keep) {
			t.Errorf("settings.json lacks %s:\n%s", keep, files["settings.json"])
		}
	}
	if !strings.Contains(files["log.txt"], "connecting with token REDACTED") {
		t.Errorf("log.txt: %q", files["log.txt"])
	}
	var plugins []Plugin
	if err := json.Unmarshal([]byte(files["plugins.json"]), &plugins); err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, p := range plugins {
		listed[p.Name] = p.Listed
		if len(p.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", p.Name, p.SHA256)
		}
	}
	if listed["system"] != "ok" || listed["disk"] != "mismatch" || listed["extra"] != "unlisted" || len(listed) != 3 {
		t.Errorf("sha256sums: %v", listed)
	}
	if !strings.Contains(files["versions.json"], `"towerd": "1.2.3"`) || !strings.Contains(files["os.json"], `"kernel"`) {
		t.Errorf("versions/os: %s %s", files["versions.json"], files["os.json"])
	}
}

package main

import (
	"archive/zip"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// `towerd diagnostics` and GET /api/v1/diagnostics/bundle against a real
// agent with a token and a plugin password configured: the zip holds the
// parts a bug report needs and neither secret.
func TestDiagnosticsBundle(t *testing.T) {
	t.Parallel()
	const token, password = "diag-token-7f3a9c", "mqtt-and-ups-pw-42"
	a := coretest.Start(t, coretest.Options{
		Plugins: coretest.Plugins(t, "system", "ups"),
		Config: `{"token":"` + token + `","collectors":{"ups":{"options":{"password":"` + password +
			`","host":"127.0.0.1","driver":"nut","port":"1"}}}}`,
	})
	if status, body := a.Do(t, "GET", "/api/v1/diagnostics/bundle", ""); status != http.StatusUnauthorized {
		t.Fatalf("bundle without the token: %d %s", status, body)
	}
	// Wait until the collectors ran, so their states are in the bundle.
	plugintest.Eventually(t, 30*time.Second, func() bool {
		req := a.Request(t, "GET", "/api/v1/collectors/ups", "")
		req.Header.Set("Authorization", "Bearer "+token)
		status, body := coretest.Send(t, req)
		return status == 200 && strings.Contains(string(body), `"status":"running"`)
	}, "ups collector not running")

	file := filepath.Join(t.TempDir(), "diag.zip")
	code, out, errOut := cli(t, nil, "--addr", a.Addr, "diagnostics", "-o", file, "--token", token)
	if code != exitOK || !strings.Contains(out, "diagnostics saved to "+file) {
		t.Fatalf("towerd diagnostics: exit %d %q %q", code, out, errOut)
	}
	z, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	files := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		files[f.Name] = string(b)
		if strings.Contains(string(b), token) || strings.Contains(string(b), password) {
			t.Errorf("%s holds a secret:\n%s", f.Name, b)
		}
	}
	for name, want := range map[string]string{
		"versions.json":   `"towerd"`,
		"settings.json":   `"token": "REDACTED"`,
		"collectors.json": `"name": "ups"`,
		"log.txt":         "towerd starting",
		"plugins.json":    `"sha256"`,
		"os.json":         `"kernel"`,
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %s:\n%s", name, want, files[name])
		}
	}
	if !strings.Contains(files["settings.json"], `"password": "REDACTED"`) {
		t.Errorf("settings.json: %s", files["settings.json"])
	}
	// Without the token the command says so with its exit code.
	if code, _, _ := cli(t, nil, "diagnostics", "--addr", a.Addr, "-o", file+".2"); code != exitUnauthorized {
		t.Errorf("diagnostics without token: exit %d", code)
	}
}

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/plugins/internal/emhttpd/emhttpdtest"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// setVar rewrites one key of the fixture copy's var.ini.
func setVar(t *testing.T, root, key, val string) {
	t.Helper()
	p := filepath.Join(root, unraid.VarIni)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key+"=") {
			l = key + `="` + val + `"`
		}
		out = append(out, l)
	}
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSpinThroughEmhttpd runs the plugin process on a copy of the fixture
// tree with a stand-in emhttpd: the exact request of each spin command
// (the slot name, whatever the caller named the disk by), the csrf_token
// read fresh each time, unknown disks refused before anything is sent,
// and a non-200 answer.
func TestSpinThroughEmhttpd(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	srv := emhttpdtest.Start(t, root)
	p := plugintest.Start(t, plugintest.Build(t, "github.com/towerd/towerd/plugins/disk"))
	unraidtest.Configure(t, p, sdk.Config{Root: root, Options: map[string]string{"smart": "false"}})
	ctx := context.Background()
	info, err := p.Describe(ctx)
	if err != nil || strings.Join(info.Actions, ",") != "spinup,spindown" {
		t.Fatalf("Describe actions %v (%v)", info.Actions, err)
	}
	steps := []struct {
		action, target, token, state string
		want                         string
	}{
		{"spindown", "disk1", "0A1B2C3D4E5F6071", "STARTED", "GET /update.htm?cmdSpindown=disk1&csrf_token=0A1B2C3D4E5F6071&startState=STARTED HTTP/1.1"},
		{"spinup", "sdf", "5555AAAA5555AAAA", "STARTED", "GET /update.htm?cmdSpinup=disk3&csrf_token=5555AAAA5555AAAA&startState=STARTED HTTP/1.1"},
		{"spindown", "parity2", "5555AAAA5555AAAA", "STOPPED", "GET /update.htm?cmdSpindown=parity2&csrf_token=5555AAAA5555AAAA&startState=STOPPED HTTP/1.1"},
		{"spinup", "cache", "1", "STARTED", "GET /update.htm?cmdSpinup=cache&csrf_token=1&startState=STARTED HTTP/1.1"},
	}
	for _, st := range steps {
		setVar(t, root, "csrf_token", st.token)
		setVar(t, root, "mdState", st.state)
		before := len(srv.Lines())
		msg, err := p.Act(ctx, sdk.Action{Name: st.action, Target: st.target})
		if err != nil || msg == "" {
			t.Fatalf("%s %s: %q %v", st.action, st.target, msg, err)
		}
		if got := srv.Lines()[before:]; len(got) != 1 || got[0] != st.want {
			t.Errorf("%s %s: emhttpd got %q, want %q", st.action, st.target, got, st.want)
		}
	}
	n := len(srv.Lines())
	for _, tc := range []struct {
		action, target string
		params         map[string]string
		want           error
	}{
		{"spinup", "disk5", nil, sdk.ErrNotFound}, // an empty slot is not a disk
		{"spinup", "disk9", nil, sdk.ErrNotFound},
		{"spinup", "docker_vdisk", nil, sdk.ErrNotFound},
		{"spindown", "Disk1", nil, sdk.ErrInvalidArgument},
		{"spindown", "disk1;reboot", nil, sdk.ErrInvalidArgument},
		{"spindown", "disk1", map[string]string{"now": "1"}, sdk.ErrInvalidArgument},
		{"spindown", "flash", nil, sdk.ErrConflict},
		{"format", "disk1", nil, sdk.ErrUnsupported},
	} {
		if _, err := p.Act(ctx, sdk.Action{Name: tc.action, Target: tc.target, Params: tc.params}); !errors.Is(err, tc.want) {
			t.Errorf("%s %q: %v, want %v", tc.action, tc.target, err, tc.want)
		}
	}
	if got := srv.Lines()[n:]; len(got) != 0 {
		t.Errorf("refused actions reached emhttpd: %q", got)
	}
	srv.SetStatus(500)
	if _, err := p.Act(ctx, sdk.Action{Name: "spinup", Target: "disk1"}); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("emhttpd 500: %v", err)
	}
}

// Without the socket the command goes to /proc/mdcmd, and the answer
// says that Unraid 7.3 refuses it there; with neither, 503.
func TestSpinFallback(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	c, _ := newTestCollector(t, root, "smart", "false")
	ctx := context.Background()
	_, err := c.Act(ctx, sdk.Action{Name: "spindown", Target: "disk2"})
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "emhttpd.socket") {
		t.Fatalf("no socket, no mdcmd: %v", err)
	}
	unraidtest.WriteFile(t, root, unraid.MdCmd, "")
	msg, err := c.Act(ctx, sdk.Action{Name: "spindown", Target: "disk2"})
	if err != nil || !strings.Contains(msg, "7.3") {
		t.Fatalf("mdcmd fallback: %q %v", msg, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, unraid.MdCmd)); string(b) != "spindown disk2\n" {
		t.Errorf("mdcmd = %q", b)
	}
	// A read-only mdcmd stands in for the kernel refusing the write.
	if err := os.Chmod(filepath.Join(root, unraid.MdCmd), 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root writes read-only files anyway
		if _, err := c.Act(ctx, sdk.Action{Name: "spinup", Target: "disk2"}); err == nil || !strings.Contains(err.Error(), "Unraid 7.3") {
			t.Errorf("refused mdcmd: %v, want the 7.3 caveat", err)
		}
	}
}

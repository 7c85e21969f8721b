package emhttpd

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/plugins/internal/emhttpd/emhttpdtest"
	"github.com/towerd/towerd/sdk"
)

func writeVar(t *testing.T, root, body string) {
	t.Helper()
	p := filepath.Join(root, "var/local/emhttp/var.ini")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The exact request emhttpd gets: GET /update.htm with the sorted,
// form-encoded query and the csrf_token read from var.ini on each call.
func TestSendRequestLineAndFreshToken(t *testing.T) {
	root := t.TempDir()
	srv := emhttpdtest.Start(t, root)
	writeVar(t, root, "version=\"7.3.1\"\nmdState=\"STARTED\"\ncsrf_token=\"0A1B2C3D4E5F6071\"\n")
	if !Available(root) {
		t.Fatal("socket not seen")
	}
	ctx := context.Background()
	if err := Send(ctx, root, url.Values{"cmdSpinup": {"disk1"}, "startState": {"STARTED"}}); err != nil {
		t.Fatal(err)
	}
	// emhttpd restarted: a new token.
	writeVar(t, root, "mdState=\"STARTED\"\ncsrf_token=\"FFEE00112233AABB\"\n")
	if err := Send(ctx, root, url.Values{"clearStatistics": {"true"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /update.htm?cmdSpinup=disk1&csrf_token=0A1B2C3D4E5F6071&startState=STARTED HTTP/1.1",
		"GET /update.htm?clearStatistics=true&csrf_token=FFEE00112233AABB HTTP/1.1",
	}
	got := srv.Requests()
	if len(got) != len(want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Line != want[i] || got[i].Host != "localhost" {
			t.Errorf("request %d = %q (Host %q), want %q (Host localhost)", i, got[i].Line, got[i].Host, want[i])
		}
	}
}

func TestSendErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no socket", func(t *testing.T) {
		root := t.TempDir()
		writeVar(t, root, "csrf_token=\"AB\"\n")
		err := Send(ctx, root, url.Values{"cmdSpinup": {"disk1"}})
		if !errors.Is(err, ErrNoSocket) || !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "var/run/emhttpd.socket") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a plain file is not the socket", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "var/run"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, Socket), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if Available(root) {
			t.Error("regular file taken for the socket")
		}
	})
	t.Run("non-200", func(t *testing.T) {
		root := t.TempDir()
		srv := emhttpdtest.Start(t, root)
		writeVar(t, root, "csrf_token=\"AB\"\n")
		srv.SetStatus(http.StatusForbidden)
		err := Send(ctx, root, url.Values{"cmdSpindown": {"disk2"}})
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "cmdSpindown") {
			t.Errorf("err = %v, want the 403 named", err)
		}
	})
	t.Run("no csrf_token: nothing sent", func(t *testing.T) {
		root := t.TempDir()
		srv := emhttpdtest.Start(t, root)
		writeVar(t, root, "mdState=\"STARTED\"\n")
		if err := Send(ctx, root, url.Values{"cmdSpinup": {"disk1"}}); !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests sent without a token", n)
		}
	})
}

func TestWriteMdCmd(t *testing.T) {
	root := t.TempDir()
	if err := WriteMdCmd(root, "spinup disk1"); !errors.Is(err, sdk.ErrUnavailable) || HasMdCmd(root) {
		t.Fatalf("without proc/mdcmd: %v (and it must not be created)", err)
	}
	p := filepath.Join(root, "proc/mdcmd")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteMdCmd(root, "start"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "start\n" {
		t.Errorf("mdcmd = %q", b)
	}
}

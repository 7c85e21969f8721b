package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
)

// configured returns c configured on root with opts.
func configured(t *testing.T, c *collector, root string, opts map[string]string) *collector {
	t.Helper()
	if err := c.Configure(context.Background(), sdk.Config{Root: root, Options: opts}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

// collectInto runs Collect, checks the payload against the contract and
// decodes it into out.
var collectInto = unraidtest.CollectJSON

func act(c *collector, name, target string, params map[string]string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Act(ctx, sdk.Action{Name: name, Target: target, Params: params})
}

func wantErr(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: error %v, want %v", what, err, kind)
	}
}

var fixture = unraidtest.FixtureRoot

// sentinel puts a file beside the root (outside it) and returns a check
// that it is unchanged and alone, for tests that try to escape the root.
func sentinel(t *testing.T, root string) func() {
	t.Helper()
	outside := filepath.Join(filepath.Dir(root), "outside-"+filepath.Base(root))
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "keep.notify"), []byte("timestamp=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		entries, _ := os.ReadDir(outside)
		if len(entries) != 1 || entries[0].Name() != "keep.notify" {
			t.Errorf("the folder outside the root changed: %v", entries)
		}
		if b, err := os.ReadFile(filepath.Join(outside, "keep.notify")); err != nil || string(b) != "timestamp=1\n" {
			t.Errorf("the file outside the root changed: %q %v", b, err)
		}
	}
}

package bundle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
)

func TestCollector(t *testing.T) {
	c := New(sdk.Info{Name: "x", Topic: "x_update", Actions: []string{"go"}}, map[string]string{"timeout": "5s"})
	if c.Describe().Version != sdk.Version || c.Root() != "/" || c.Opt("timeout") != "5s" {
		t.Fatalf("defaults: %+v root %q", c.Describe(), c.Root())
	}
	ctx := context.Background()
	err := c.Configure(ctx, sdk.Config{Root: "/r", Options: map[string]string{"nope": "1"}})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("unknown option: %v", err)
	}
	if err := c.Configure(ctx, sdk.Config{Root: "/r", Options: map[string]string{"timeout": "bad"}}); err != nil {
		t.Fatal(err)
	}
	if c.Path("a/b") != "/r/a/b" || c.OptDuration("timeout", time.Minute) != time.Minute {
		t.Errorf("path %q, duration %v", c.Path("a/b"), c.OptDuration("timeout", time.Minute))
	}
	if _, err := c.Act(ctx, sdk.Action{Name: "go"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("act without ActFunc: %v", err)
	}
	c.CollectFunc = func(context.Context, *Collector) (any, error) { return 1, nil }
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Collect(cancelled); err == nil {
		t.Error("Collect ran with a cancelled context")
	}
}

func TestReadSmall(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadSmall(p, 5); err != nil || string(b) != "12345" {
		t.Errorf("5 bytes: %q %v", b, err)
	}
	if _, err := ReadSmall(p, 4); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadSmall(dir, 4); err == nil {
		t.Error("a directory was read")
	}
	// /proc files report size 0 but have content.
	if b, err := ReadSmall("/proc/self/stat", 4096); err != nil || len(b) == 0 {
		t.Errorf("/proc/self/stat: %d bytes, %v", len(b), err)
	}
}

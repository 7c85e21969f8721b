// Package unraidtest holds test helpers shared by the array, disk, shares,
// unraid and zfs plugin tests: the fixture Unraid tree, copies of it to
// modify, configuring a plugin process, and checking and measuring a bundle.
package unraidtest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// FixtureRoot is the absolute path of the repository's testdata/unraid.
func FixtureRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate unraidtest source")
	}
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "../../../../testdata/unraid"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/local/emhttp/var.ini")); err != nil {
		t.Fatalf("fixture tree: %v", err)
	}
	return root
}

// CopyFixture copies the fixture tree into a temporary directory, for tests
// that change files, and returns its path.
func CopyFixture(t testing.TB) string {
	t.Helper()
	src := FixtureRoot(t)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// WriteFile writes content to rel under root, creating directories.
func WriteFile(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Configure calls Configure on a plugin process and fails the test on error.
func Configure(t testing.TB, p *plugintest.Plugin, cfg sdk.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.Configure(ctx, cfg)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

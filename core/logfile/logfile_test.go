package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/sdk/plugintest"
)

// More than two rotations' worth of trace logging: the directory never
// holds more than the current file and one backup, each within the size.
func TestRotationBound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "towerd.log")
	l, err := Open(Options{Path: path, MaxSizeMB: 1, RingLines: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := hclog.New(&hclog.LoggerOptions{Name: "towerd", Level: hclog.Trace, Output: l})
	const limit = 1 << 20
	filler := strings.Repeat("x", 200)
	written := 0
	for i := 0; written < 3*limit+limit/2; i++ { // 3.5 MB: at least 3 rotations
		log.Named("plugin").Named("disk").Trace("tick", "n", i, "filler", filler)
		written += 260
	}
	log.Info("last line")
	var files []os.DirEntry
	// lumberjack removes old backups in the background.
	plugintest.Eventually(t, 5*time.Second, func() bool {
		files, err = os.ReadDir(dir)
		return err == nil && len(files) == 1+Backups
	}, "want the current file and %d backup, have %d files", Backups, len(files))
	total := int64(0)
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > limit {
			t.Errorf("%s: %d bytes, over the %d limit", f.Name(), info.Size(), limit)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f.Name(), info.Mode().Perm())
		}
		total += info.Size()
		t.Logf("%s %d bytes", f.Name(), info.Size())
	}
	if total > (1+Backups)*limit {
		t.Errorf("log takes %d bytes, bound is %d", total, (1+Backups)*limit)
	}
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(cur), "last line") || !strings.Contains(string(cur), "towerd.plugin.disk") {
		t.Errorf("current file lacks the last lines")
	}
	tail := l.Tail()
	if len(tail) != 10 || !strings.Contains(tail[9], "last line") {
		t.Errorf("tail: %d lines, last %q", len(tail), tail[len(tail)-1])
	}
}

func TestRingKeepsLastLines(t *testing.T) {
	r := NewRing(3)
	fmt.Fprint(r, "a\nb\n")
	if got := r.Lines(); strings.Join(got, ",") != "a,b" {
		t.Errorf("got %q", got)
	}
	fmt.Fprint(r, "c\nd")
	fmt.Fprint(r, "e\nf\n")
	if got := r.Lines(); strings.Join(got, ",") != "c,de,f" {
		t.Errorf("got %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{Path: "/proc/no/such/dir/towerd.log"}); err == nil || !strings.Contains(err.Error(), "/proc/no/such") {
		t.Errorf("unwritable path: %v", err)
	}
	if _, err := Open(Options{Path: filepath.Join(t.TempDir(), "l"), MaxSizeMB: -1}); err == nil {
		t.Error("negative size accepted")
	}
}

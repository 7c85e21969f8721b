package sdk

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// With GCStatsEnv set, a process reports its completed GC cycles after
// each cycle (towerbench waits for three before measuring).
func TestGCStatsReportsCycles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "1")
	watchGC(path)
	for deadline := time.Now().Add(10 * time.Second); ; {
		runtime.GC() // each cycle runs the finalizer of the one before
		b, err := os.ReadFile(path)
		if n, _ := strconv.Atoi(string(b)); err == nil && n >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no GC count written to %s: %q %v", path, b, err)
		}
	}
}

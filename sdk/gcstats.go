package sdk

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
)

// GCStatsEnv names a directory. When it is set (towerbench sets it), every
// process that links this package, the core and every Go plugin, writes
// the number of garbage collection cycles it has completed to DIR/PID
// after each cycle, so a benchmark can tell when all of them have reached
// a steady state. It adds no goroutine and no timer: the write runs on
// the runtime's finalizer goroutine, which a GC cycle wakes anyway. Unset,
// it costs nothing.
const GCStatsEnv = "TOWERD_GCSTATS_DIR"

func init() {
	if dir := os.Getenv(GCStatsEnv); dir != "" {
		watchGC(filepath.Join(dir, strconv.Itoa(os.Getpid())))
	}
}

// gcSentinel becomes garbage at once; its finalizer runs after the next
// cycle. It holds a pointer so the tiny allocator does not batch it with
// other objects (which would delay the finalizer).
type gcSentinel struct {
	_ *int
	_ [16]byte
}

func watchGC(path string) {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			tmp := path + ".tmp"
			if os.WriteFile(tmp, []byte(strconv.FormatUint(s[0].Value.Uint64(), 10)), 0o644) == nil {
				_ = os.Rename(tmp, path)
			}
		}
		watchGC(path)
	})
}

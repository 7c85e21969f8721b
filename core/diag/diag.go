// Package diag is what towerd tells about itself. The runtime figures
// (goroutines, heap, resident memory) as JSON, for soak and fault-injection
// tests and for a user chasing a leak, mounted only with `towerd
// --debug-runtime`; and the diagnostics bundle (bundle.go), a zip a user
// attaches to a bug report, always mounted. Both sit behind the same token
// as the rest of the API.
package diag

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Path is where the handler is mounted, under /api/v1.
const Path = "/debug/runtime"

// Runtime is the body of GET /api/v1/debug/runtime.
type Runtime struct {
	Goroutines     int    `json:"goroutines"`
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	SysBytes       uint64 `json:"sys_bytes"`
	RSSBytes       int64  `json:"rss_bytes"`
	NumGC          uint32 `json:"num_gc"`
	PID            int    `json:"pid"`
}

// Snapshot reads the figures now.
func Snapshot() Runtime {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return Runtime{
		Goroutines: runtime.NumGoroutine(), HeapAllocBytes: m.HeapAlloc, SysBytes: m.Sys,
		RSSBytes: selfRSS(), NumGC: m.NumGC, PID: os.Getpid(),
	}
}

// Handler serves Snapshot.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, _ := json.Marshal(Snapshot())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}

func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

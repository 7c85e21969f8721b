package main

import (
	"os"
	"runtime"
)

// CoreProcs is the core's GOMAXPROCS unless the environment sets
// GOMAXPROCS. The core's work is small and bursty (a few collects every
// 5 s, REST and WebSocket writes); Go's default, one P per CPU thread,
// only adds threads and cross-thread wakeups on a 16- or 32-thread Unraid
// server. Two keep a REST request served while a collect result is being
// published. A fixed value also stops the runtime re-reading the cgroup
// CPU limit in the background. Measured in README "Performance".
const CoreProcs = 2

// limitProcs applies CoreProcs unless the user chose GOMAXPROCS. It only
// changes the core: plugins get their own setting from the supervisor.
func limitProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(CoreProcs)
	}
}

package main

import (
	"testing"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
)

// TestSteadyStateMemory measures the bundle as `make build` builds it:
// every collector configured on the fixture and collected 30 times, then
// the process's RSS and anonymous memory, logged and checked against the
// bound unraidtest.MeasureBundle explains.
//
//	go test -run TestSteadyStateMemory -v ./plugins/unraid/ ./plugins/zfs/
func TestSteadyStateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the lean binary")
	}
	unraidtest.MeasureBundle(t, ".", unraidtest.FixtureRoot(t))
}

package main

import (
	"testing"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
)

// TestSteadyStateMemory measures the bundle as `make build` builds it; see
// unraidtest.MeasureBundle for the figures it guards.
//
//	go test -run TestSteadyStateMemory -v ./plugins/zfs/
func TestSteadyStateMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the lean binary")
	}
	unraidtest.MeasureBundle(t, ".", unraidtest.FixtureRoot(t))
}

package plugintest

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// Eventually polls cond every 10 ms until it returns true or timeout
// passes, then fails the test with msg. Tests use it instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Unavailable reports that a real dependency (a daemon, a tool) is missing.
// Outside CI the test is skipped with a loud message; in CI (CI=true), where
// .ci/run installs everything, it fails instead, so a missing part can never
// pass silently.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("required test dependency unavailable in CI: %s", msg)
	}
	t.Skipf("SKIPPED — required test dependency unavailable: %s (install it with `make deps`)", msg)
}

// Package chrometest drives a real headless Chromium in tests of the web
// pages (core/web's dashboard, the Unraid settings page): it finds the
// browser, skips the test where none is installed, and starts one with
// the flags root in a container needs. It is apart from coretest so that
// only the browser tests compile chromedp.
package chrometest

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/towerd/towerd/sdk/plugintest"
)

// Path returns the Chromium executable; where none is installed the test
// is skipped (failed in CI, see plugintest.Unavailable).
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	plugintest.Unavailable(t, "chromium not installed (.ci/setup.d/70-chromium.sh)")
	return ""
}

// Browser starts a headless Chromium for the test and returns its
// context, cancelled (and the browser stopped) after timeout or at the
// test's end.
func Browser(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	// chromedp's defaults (headless, no background networking, no
	// /dev/shm, no extensions) plus what root in a container needs.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path(t)),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// Until polls a JavaScript condition in the page.
func Until(cond string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return Discard(chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(timeout)))
}

// Discard turns an action with a value into a step.
func Discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

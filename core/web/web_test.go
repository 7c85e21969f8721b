package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/core/coretest/chrometest"
)

// run runs one action and returns its value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromedp: %v", err)
	}
	return v
}

// The page loads from a real towerd, lists the collectors with their
// state, shows live events per topic, and its toggle and interval input
// change the collector — checked on the page and through REST.
func TestStatusPageInChromium(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system", "network")})
	a.WaitCollector(t, "network", 30*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })

	ctx := chrometest.Browser(t, 90*time.Second)
	start := time.Now()
	err := chromedp.Do(ctx,
		chromedp.Navigate(a.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#c-network .status`)),
		chrometest.Until(`document.querySelector("#c-network").dataset.status === "running"`, 20*time.Second),
		// Live events: the snapshot at connect carries both topics.
		chromedp.WaitVisible(chromedp.CSS(`#t-system_update`)),
		chromedp.WaitVisible(chromedp.CSS(`#t-network_list_update`)),
		chrometest.Until(`document.querySelector("#ws-state").textContent === "live"`, 10*time.Second),
		chrometest.Until(`document.querySelector("#host").textContent !== ""`, 10*time.Second),
	)
	if err != nil {
		t.Fatalf("load page: %v\nagent log:\n%s", err, a.Log())
	}
	title := run(t, ctx, chromedp.Title())
	hostText := run(t, ctx, chromedp.Text(chromedp.CSS(`#host`)))
	t.Logf("page loaded and live in %v", time.Since(start))
	if title != "towerd status" {
		t.Errorf("title %q", title)
	}
	host, _ := os.Hostname()
	if !strings.Contains(hostText, host) {
		t.Errorf("header host %q, want %q (from system_update)", hostText, host)
	}
	if !run(t, ctx, chromedp.Evaluate[bool](`document.querySelector("#c-system .toggle").disabled`)) {
		t.Error("system is required; its toggle should be disabled")
	}

	// Toggle network off: the row shows disabled, and REST agrees.
	start = time.Now()
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#c-network .toggle`)),
		chrometest.Until(`document.querySelector("#c-network").dataset.status === "disabled"`, 15*time.Second),
	)
	if err != nil {
		t.Fatalf("toggle off: %v", err)
	}
	status := run(t, ctx, chromedp.Text(chromedp.CSS(`#c-network .status`)))
	t.Logf("toggle → disabled shown in %v", time.Since(start))
	if status != "disabled" {
		t.Errorf("status cell %q", status)
	}
	if c := a.Collector(t, "network"); c.Enabled || c.Status != "disabled" {
		t.Errorf("REST after toggling off: %+v", c)
	}

	// Change system's interval through the input.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#c-system .interval`), "7"),
		chrometest.Discard(chromedp.Evaluate[bool](`document.querySelector("#c-system .interval").dispatchEvent(new Event("change"))`)),
	)
	if err != nil {
		t.Fatalf("interval: %v", err)
	}
	a.WaitCollector(t, "system", 10*time.Second, func(c coretest.Collector) bool { return c.IntervalSeconds == 7 })

	// Toggle back on: running again, on the page and through REST.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#c-network .toggle`)),
		chrometest.Until(`document.querySelector("#c-network").dataset.status === "running"`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("toggle on: %v", err)
	}
	if c := a.Collector(t, "network"); !c.Enabled || c.Status != "running" {
		t.Errorf("REST after toggling on: %+v", c)
	}

	png := run(t, ctx, chromedp.FullScreenshot(100))
	shot := filepath.Join(t.TempDir(), "status.png")
	if dir := os.Getenv("TOWERD_SCREENSHOT_DIR"); dir != "" { // to look at it after the run
		shot = filepath.Join(dir, "status.png")
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(png) < 10000 || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("screenshot %s is %d bytes, not a real PNG", shot, len(png))
	}
	t.Logf("screenshot %s (%d bytes)", shot, len(png))
}

// The page is served at "/" as HTML with its script inline, from the
// binary; other non-API paths are JSON 404s.
func TestPageServed(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{})
	resp, err := http.Get(a.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// No framing by other sites (clickjacking the toggles).
	if xfo, csp := resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy"); xfo != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET /: X-Frame-Options %q, CSP %q; want DENY and frame-ancestors 'none'", xfo, csp)
	}
	if code, body := a.Do(t, http.MethodGet, "/nope", ""); code != 404 || !strings.Contains(string(body), `"message"`) {
		t.Errorf("GET /nope: %d %s", code, body)
	}
	if code, _ := a.Do(t, http.MethodPost, "/", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", code)
	}
}

// A token given as ?token= is used and stored, and removed from the
// address bar (history, bookmarks, screenshots) as soon as the page has
// read it; other query parameters and the fragment stay.
func TestTokenRemovedFromAddressBar(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system"), Env: []string{"TOWERD_TOKEN=page-token"}})
	ctx := chrometest.Browser(t, 60*time.Second)
	err := chromedp.Do(ctx,
		chromedp.Navigate(a.URL+"/?token=page-token&x=1#top"),
		// The API answered with the token: the collectors are listed and
		// the stream is live.
		chromedp.WaitVisible(chromedp.CSS(`#c-system .status`)),
		chrometest.Until(`document.querySelector("#ws-state").textContent === "live"`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("load page with ?token=: %v\nagent log:\n%s", err, a.Log())
	}
	href := run(t, ctx, chromedp.Evaluate[string](`location.href`))
	stored := run(t, ctx, chromedp.Evaluate[string](`localStorage.getItem("towerd-token")`))
	if strings.Contains(href, "token") || !strings.HasSuffix(href, "/?x=1#top") {
		t.Errorf("address bar after load: %s; want the token removed, x=1 and #top kept", href)
	}
	if stored != "page-token" {
		t.Errorf("stored token %q", stored)
	}
}

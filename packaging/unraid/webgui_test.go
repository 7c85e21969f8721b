package unraid_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/core/coretest/chrometest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// webguiFiles are the settings page's files, where build.sh installs them
// (relative to the plugin's folder), with their modes.
var webguiFiles = []struct {
	src, dst string
	mode     os.FileMode
}{
	{"webgui/towerd.page", "towerd.page", 0o644},
	{"webgui/include/settings.php", "include/settings.php", 0o644},
	{"webgui/include/api.php", "include/api.php", 0o644},
	{"webgui/scripts/apply", "scripts/apply", 0o755},
	{"webgui/scripts/service", "scripts/service", 0o755},
	{"rc.towerd", "../../../../../etc/rc.d/rc.towerd", 0o755},
	{"towerd.cfg", "towerd.cfg.default", 0o644},
}

func install(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// settingsFile reads towerd.cfg's KEY="value" (or KEY=value) lines.
func settingsFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+)=(.*)$`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = strings.Trim(m[2], `"`)
	}
	return out
}

// get asks the agent at port, with token if not empty.
func get(port int, path, token string) (int, string) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The webGUI settings page, rendered by php-cli under a stand-in of the
// webGUI (testdata/webgui) and driven in headless Chromium against a real
// towerd started by rc.towerd: collector toggles and intervals reach the
// agent at once; Apply writes towerd.cfg and restarts the agent only when
// something it reads at start changed; invalid values are refused by the
// apply script with towerd.cfg untouched; the token is write-only.
func TestSettingsPage(t *testing.T) {
	t.Parallel()
	php, err := exec.LookPath("php")
	if err != nil {
		plugintest.Unavailable(t, "php-cli not installed (.ci/setup.d/80-php.sh)")
	}
	chrometest.Path(t) // skip before building where there is no browser

	// A server root laid out as the package installs it.
	root := t.TempDir()
	docroot := filepath.Join(root, "usr/local/emhttp")
	inst := filepath.Join(docroot, "plugins/towerd")
	for _, f := range webguiFiles {
		install(t, f.src, filepath.Join(inst, f.dst), f.mode)
	}
	install(t, coretest.Towerd(t), filepath.Join(inst, "towerd"), 0o755)
	for name, bin := range coretest.Plugins(t, "system", "network") {
		install(t, bin, filepath.Join(inst, "plugins.d", name), 0o755)
	}
	cfgPath, _, port := flashSettings(t, root, mustRead(t, "towerd.cfg"), 0o600)
	if code, out := rc(t, root, "start"); code != 0 {
		t.Fatalf("start: %d %s", code, out)
	}
	pid := pidOf(t, root)

	// The stand-in webGUI.
	web := coretest.FreePort(t)
	router, _ := filepath.Abs("testdata/webgui/router.php")
	srv := exec.Command(php, "-S", "127.0.0.1:"+strconv.Itoa(web), "-t", docroot, router)
	srv.Env = append(os.Environ(), "TOWERD_PREFIX="+root, "TOWERD_TOKEN=", "TOWERD_ADDR=", "PHP_CLI_SERVER_WORKERS=2")
	// A file, not a pipe: PHP's workers would keep a pipe open after the
	// server is killed. Its own process group, so they all go with it.
	phpLog, err := os.Create(filepath.Join(t.TempDir(), "php.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = phpLog, phpLog
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL); _ = srv.Wait(); phpLog.Close() })
	phpOut := func() string { b, _ := os.ReadFile(phpLog.Name()); return string(b) }
	page := fmt.Sprintf("http://127.0.0.1:%d/Settings/towerd", web)
	plugintest.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(page)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, "php -S does not answer")

	ctx := chrometest.Browser(t, 120*time.Second)
	until := func(cond string) chromedp.Action[chromedp.Void] { return chrometest.Until(cond, 30*time.Second) }
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nphp:\n%s", what, err, phpOut())
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	frame := func() string { // what update.php answered into progressFrame
		return eval(`document.getElementById("progressFrame").contentDocument.body.innerText`)
	}

	// The page: running service, settings, the agent's collectors.
	do("load", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#towerd-c-network .toggle`)))
	if s := eval(`document.getElementById("towerd-state").textContent`); s != "is running" {
		t.Errorf("service state %q", s)
	}
	if v := eval(`document.getElementById("towerd-port").value + " " + document.getElementById("towerd-bind").value`); v != strconv.Itoa(port)+" 127.0.0.1" {
		t.Errorf("port and bind fields %q", v)
	}
	if v := eval(`document.getElementById("towerd-status-page").href`); v != fmt.Sprintf("http://127.0.0.1:%d/", port) {
		t.Errorf("status page link %q", v)
	}

	// A collector toggle and an interval reach the agent at once.
	do("disable network",
		chromedp.Click(chromedp.CSS(`#towerd-c-network .toggle`)),
		until(`document.querySelector("#towerd-c-network .status").textContent === "disabled"`))
	if code, body := get(port, "/api/v1/collectors/network", ""); code != 200 || !strings.Contains(body, `"enabled":false`) {
		t.Errorf("agent after the toggle: %d %s", code, body)
	}
	do("interval",
		chromedp.SetValue(chromedp.CSS(`#towerd-c-system .interval`), "30"),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](`document.querySelector("#towerd-c-system .interval").dispatchEvent(new Event("change"))`)(ctx, tg)
			return chromedp.Void{}, err
		})
	plugintest.Eventually(t, 10*time.Second, func() bool {
		_, body := get(port, "/api/v1/collectors/system", "")
		return strings.Contains(body, `"interval_seconds":30`)
	}, "system interval not 30 after the page changed it")

	// Invalid values (past the browser's own checks: form.submit()) are
	// refused by the apply script; towerd.cfg and the agent stay.
	before, _ := os.ReadFile(cfgPath)
	for _, bad := range []struct{ field, value, says string }{
		{"towerd-port", "80", "1024 to 65535"},
		{"towerd-token", "short", "16 to 128"},
		{"towerd-token", `bad"token$(touch /tmp/x)`, "16 to 128"},
	} {
		do("submit "+bad.value,
			chromedp.SetValue(chromedp.CSS("#"+bad.field), bad.value),
			func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := chromedp.Evaluate[bool](`document.getElementById("progressFrame").src = "about:blank"; document.getElementById("towerd-settings").submit(); true`)(ctx, tg)
				return chromedp.Void{}, err
			},
			until(`(document.getElementById("progressFrame").contentDocument.body || {}).innerText?.includes("DONE")`))
		if out := frame(); !strings.Contains(out, "not applied") || !strings.Contains(out, bad.says) {
			t.Errorf("%s=%q: apply said %q", bad.field, bad.value, out)
		}
		do("reload", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#towerd-c-network .toggle`)))
	}
	if after, _ := os.ReadFile(cfgPath); string(after) != string(before) || pidOf(t, root) != pid {
		t.Errorf("a refused apply changed towerd.cfg or restarted the agent:\n%s", after)
	}

	// A change that needs no restart (the array hooks) is saved, the agent
	// keeps running.
	do("hooks",
		chromedp.SetValue(chromedp.CSS(`#towerd-hooks`), "yes"),
		chromedp.Click(chromedp.CSS(`#towerd-apply`)),
		until(`(document.getElementById("progressFrame").contentDocument.body || {}).innerText?.includes("DONE")`))
	if s := settingsFile(t, cfgPath); s["ARRAY_HOOKS"] != "yes" || pidOf(t, root) != pid {
		t.Errorf("hooks: settings %v, pid %d → %d; apply said %q", s, pid, pidOf(t, root), frame())
	}
	if !strings.Contains(frame(), "nothing that needs a restart changed") {
		t.Errorf("apply said %q", frame())
	}

	// A new port and a token: saved, the agent restarted on the new port
	// and requires the token; the page shows no token.
	const token = "webgui-Token_0123456789"
	port2 := coretest.FreePort(t)
	do("reload", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#towerd-c-network .toggle`)))
	do("apply port and token",
		chromedp.SetValue(chromedp.CSS(`#towerd-port`), strconv.Itoa(port2)),
		chromedp.SetValue(chromedp.CSS(`#towerd-token`), token),
		chromedp.SetValue(chromedp.CSS(`#towerd-level`), "debug"),
		chromedp.Click(chromedp.CSS(`#towerd-apply`)),
		until(`(document.getElementById("progressFrame").contentDocument.body || {}).innerText?.includes("DONE")`))
	s := settingsFile(t, cfgPath)
	if s["PORT"] != strconv.Itoa(port2) || s["TOKEN"] != token || s["LOG_LEVEL"] != "debug" || s["ROOT"] == "" {
		t.Fatalf("settings after apply: %v; apply said %q", s, frame())
	}
	if _, err := os.Stat(cfgPath + ".pending"); !os.IsNotExist(err) {
		t.Errorf("pending file left: %v", err)
	}
	if pidOf(t, root) == pid || !strings.Contains(frame(), "towerd started") {
		t.Errorf("agent not restarted: apply said %q", frame())
	}
	if code, _ := get(port2, "/api/v1/collectors", ""); code != http.StatusUnauthorized {
		t.Errorf("new port without token: %d, want 401", code)
	}
	if code, body := get(port2, "/api/v1/collectors/network", token); code != 200 || !strings.Contains(body, `"enabled":false`) {
		t.Errorf("new port with token: %d %s", code, body)
	}
	// Write-only: the page never shows the token; the proxy uses it.
	do("reload", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#towerd-c-network .toggle`)))
	html := eval(`document.documentElement.outerHTML`)
	if strings.Contains(html, token) || eval(`document.getElementById("towerd-token").value`) != "" {
		t.Errorf("the page shows the token")
	}
	do("enable network through the proxy with the token",
		chromedp.Click(chromedp.CSS(`#towerd-c-network .toggle`)),
		until(`document.querySelector("#towerd-c-network .status").textContent !== "disabled"`))

	// The service buttons.
	do("stop",
		chromedp.Click(chromedp.CSS(`#towerd-stop`)),
		until(`(document.getElementById("progressFrame").contentDocument.body || {}).innerText?.includes("DONE")`))
	if code, out := rc(t, root, "status"); code != 3 {
		t.Errorf("after Stop: status %d %q; page said %q", code, out, frame())
	}
}

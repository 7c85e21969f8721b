package unraid_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
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

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

const installDir = "usr/local/emhttp/plugins/towerd"

// testReleaseURL is where the test's .plg downloads from.
const testReleaseURL = "https://mirror.example/towerd/releases"

// built builds the package with the script `make package` runs.
func built(t *testing.T) (txz, plg string) {
	t.Helper()
	out := t.TempDir()
	start := time.Now()
	cmd := exec.Command(filepath.Join(coretest.RepoRoot(), "packaging", "unraid", "build.sh"), out)
	cmd.Env = append(os.Environ(), "RELEASE_URL="+testReleaseURL+"/")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	t.Logf("package built in %v", time.Since(start).Round(time.Millisecond))
	m, _ := filepath.Glob(filepath.Join(out, "towerd-*-x86_64-1.txz"))
	if len(m) != 1 {
		t.Fatalf("want one package in %s, got %v", out, m)
	}
	return m[0], filepath.Join(out, "towerd.plg")
}

func builtinPlugins(t *testing.T) []string {
	mains, _ := filepath.Glob(filepath.Join(coretest.RepoRoot(), "plugins", "*", "main.go"))
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	if len(names) == 0 {
		t.Fatal("no plugins in the tree")
	}
	return names
}

// rc runs rc.towerd from the unpacked root with TOWERD_PREFIX set.
func rc(t *testing.T, root, verb string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(root, "etc/rc.d/rc.towerd"), verb)
	cmd.Env = append(os.Environ(), "TOWERD_PREFIX="+root, "TOWERD_TOKEN=", "TOWERD_ADDR=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("rc.towerd %s: %v", verb, err)
	}
	return 0, string(out)
}

func pidOf(t *testing.T, root string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/run/towerd.pid"))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie (state Z) has exited.
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// pluginProcs lists live processes running a binary of the installed
// plugins.d.
func pluginProcs(root string) []int {
	dir := filepath.Join(root, installDir, "plugins.d") + "/"
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.HasPrefix(exe, dir) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// flashSettings writes root's towerd.cfg (with mode) from the default
// settings def, on a free loopback port and the fixture Unraid tree, and
// returns its path, content and port. The agent rc.towerd starts from root
// is stopped when the test ends, whatever failed, and its plugins killed.
func flashSettings(t *testing.T, root string, def []byte, mode os.FileMode) (path, cfg string, port int) {
	t.Helper()
	port = coretest.FreePort(t)
	path = filepath.Join(root, "boot/config/plugins/towerd/towerd.cfg")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg = regexp.MustCompile(`(?m)^PORT=.*$`).ReplaceAllString(string(def), "PORT="+strconv.Itoa(port))
	cfg = regexp.MustCompile(`(?m)^BIND=.*$`).ReplaceAllString(cfg, `BIND="127.0.0.1"`)
	cfg = regexp.MustCompile(`(?m)^ROOT=.*$`).ReplaceAllString(cfg, "ROOT="+filepath.Join(coretest.RepoRoot(), "testdata", "unraid"))
	if err := os.WriteFile(path, []byte(cfg), mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rc(t, root, "stop")
		for _, p := range pluginProcs(root) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	return path, cfg, port
}

// `make package`'s archive unpacks into a root with towerd, every plugin
// (linux/amd64, built with -trimpath), the rc script and the default
// settings; rc.towerd then starts, reports, restarts and stops the real
// agent with its plugins, on the fixture Unraid tree.
func TestPackageAndRCScript(t *testing.T) {
	t.Parallel()
	txz, plg := built(t)
	root := t.TempDir()
	if b, err := exec.Command("tar", "-C", root, "-xJf", txz).CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v\n%s", err, b)
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("archive root mode %v (it becomes / on install)", st.Mode())
	}

	// Contents.
	plugins := builtinPlugins(t)
	bins := []string{filepath.Join(root, installDir, "towerd")}
	for _, p := range plugins {
		bins = append(bins, filepath.Join(root, installDir, "plugins.d", p))
	}
	repo := []byte(coretest.RepoRoot())
	for _, b := range bins {
		f, err := elf.Open(b)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
			t.Errorf("%s: machine %v class %v, want linux/amd64", b, f.Machine, f.Class)
		}
		f.Close()
		data, _ := os.ReadFile(b)
		if bytes.Contains(data, repo) {
			t.Errorf("%s holds the build path %s: not built with -trimpath", b, repo)
		}
	}
	for _, f := range []string{"etc/rc.d/rc.towerd", installDir + "/towerd.cfg.default", installDir + "/plugins.d/SHA256SUMS", "install/slack-desc",
		installDir + "/event/disks_mounted", installDir + "/event/unmounting_disks"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("package lacks %s", f)
		}
	}

	for _, f := range webguiFiles { // the settings page, where its test installs it
		st, err := os.Stat(filepath.Join(root, installDir, f.dst))
		if err != nil || st.Mode().Perm() != f.mode {
			t.Errorf("package: %s: %v (mode %v, want %v)", f.dst, err, st.Mode(), f.mode)
		}
	}
	checkPLG(t, plg, txz)

	// Settings on the "flash drive": a free loopback port, the fixture tree.
	cfgPath, cfg, port := flashSettings(t, root, mustRead(t, filepath.Join(root, installDir, "towerd.cfg.default")), 0o644)
	cfgDir := filepath.Dir(cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	if code, out := rc(t, root, "status"); code != 3 || !strings.Contains(out, "not running") {
		t.Errorf("status before start: %d %q", code, out)
	}

	start := time.Now()
	code, out := rc(t, root, "start")
	if code != 0 || !strings.Contains(out, "towerd started") {
		log, _ := os.ReadFile(filepath.Join(root, "var/log/towerd.log"))
		t.Fatalf("start: %d %q\nlog:\n%s", code, out, log)
	}
	t.Logf("rc.towerd start answered in %v", time.Since(start).Round(time.Millisecond))
	pid := pidOf(t, root)
	if resp, err := http.Get(base + "/api/v1/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health after start: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	plugintest.Eventually(t, 30*time.Second, func() bool { return len(pluginProcs(root)) == len(plugins) },
		"want %d plugin processes from the installed plugins.d, have %v", len(plugins), pluginProcs(root))

	// status shows the agent and its collectors (the CLI's table).
	plugintest.Eventually(t, 30*time.Second, func() bool {
		code, out = rc(t, root, "status")
		return code == 0 && strings.Contains(out, fmt.Sprintf("towerd is running (pid %d)", pid)) &&
			strings.Contains(out, "array") && !strings.Contains(out, "NOT RUNNING")
	}, "status while running: %d %q", &code, &out)

	if code, out := rc(t, root, "start"); code != 0 || !strings.Contains(out, "already running") || pidOf(t, root) != pid {
		t.Errorf("second start: %d %q", code, out)
	}

	// The config the agent writes goes to the flash drive.
	if resp, err := http.Post(base+"/api/v1/collectors/shares/disable", "application/json", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("disable shares: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if b, err := os.ReadFile(filepath.Join(cfgDir, "towerd.json")); err != nil || !strings.Contains(string(b), "shares") {
		t.Errorf("settings not persisted under boot/config/plugins/towerd: %v %s", err, b)
	}

	start = time.Now()
	if code, out := rc(t, root, "restart"); code != 0 || !strings.Contains(out, "towerd stopped") || !strings.Contains(out, "towerd started") {
		t.Fatalf("restart: %d %q", code, out)
	}
	t.Logf("rc.towerd restart took %v", time.Since(start).Round(time.Millisecond))
	newPID := pidOf(t, root)
	if newPID == pid || alive(pid) {
		t.Errorf("restart: pid %d → %d, old alive %v", pid, newPID, alive(pid))
	}
	// The disabled collector stays disabled across the restart.
	plugintest.Eventually(t, 30*time.Second, func() bool { return len(pluginProcs(root)) == len(plugins)-1 },
		"after restart want %d plugin processes (shares disabled), have %v", len(plugins)-1, pluginProcs(root))

	start = time.Now()
	if code, out := rc(t, root, "stop"); code != 0 || !strings.Contains(out, "towerd stopped") {
		t.Fatalf("stop: %d %q", code, out)
	}
	t.Logf("rc.towerd stop took %v", time.Since(start).Round(time.Millisecond))
	if alive(newPID) {
		t.Errorf("towerd %d still alive after stop", newPID)
	}
	if left := pluginProcs(root); len(left) > 0 {
		t.Errorf("plugin processes left after stop: %v", left)
	}
	if _, err := os.Stat(filepath.Join(root, "var/run/towerd.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left after stop: %v", err)
	}
	if code, out := rc(t, root, "status"); code != 3 {
		t.Errorf("status after stop: %d %q", code, out)
	}
	if code, out := rc(t, root, "stop"); code != 0 || !strings.Contains(out, "not running") {
		t.Errorf("stop when stopped: %d %q", code, out)
	}

	// Array event hooks: by default they do nothing (the agent keeps
	// reporting a stopped array); with ARRAY_HOOKS="yes" the array's start
	// starts the agent and its stop stops it.
	hook := func(event string) string {
		cmd := exec.Command(filepath.Join(root, installDir, "event", event))
		cmd.Env = append(os.Environ(), "TOWERD_PREFIX="+root, "TOWERD_TOKEN=", "TOWERD_ADDR=")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("event %s: %v\n%s", event, err, b)
		}
		return string(b)
	}
	hook("disks_mounted")
	if code, out := rc(t, root, "status"); code != 3 {
		t.Errorf("hooks not chosen, yet disks_mounted started towerd: %d %q", code, out)
	}
	cfg = regexp.MustCompile(`(?m)^ARRAY_HOOKS=.*$`).ReplaceAllString(cfg, `ARRAY_HOOKS="yes"`)
	if !strings.Contains(cfg, `ARRAY_HOOKS="yes"`) {
		t.Fatalf("default settings lack ARRAY_HOOKS:\n%s", cfg)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "towerd.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := hook("disks_mounted"); !strings.Contains(out, "towerd started") {
		t.Errorf("disks_mounted with ARRAY_HOOKS=yes: %q", out)
	}
	if out := hook("unmounting_disks"); !strings.Contains(out, "towerd stopped") {
		t.Errorf("unmounting_disks with ARRAY_HOOKS=yes: %q", out)
	}
	if code, _ := rc(t, root, "status"); code != 3 {
		t.Errorf("towerd running after unmounting_disks")
	}

	// towerd wrote its own log (bounded, rotated), not the rc script.
	if b, err := os.ReadFile(filepath.Join(root, "var/log/towerd.log")); err != nil || !strings.Contains(string(b), "towerd starting") {
		t.Errorf("towerd.log: %v %.300s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(root, "var/log/towerd.out")); err != nil || !strings.Contains(string(b), "status page") {
		t.Errorf("towerd.out: %v %.300s", err, b)
	}
}

// `make package` twice on the same tree gives the same bytes: the package
// and the .plg.
func TestPackageReproducible(t *testing.T) {
	t.Parallel()
	txz1, plg1 := built(t)
	txz2, plg2 := built(t)
	if filepath.Base(txz1) != filepath.Base(txz2) {
		t.Fatalf("names differ: %s %s", txz1, txz2)
	}
	for _, pair := range [][2]string{{txz1, txz2}, {plg1, plg2}} {
		if !bytes.Equal(mustRead(t, pair[0]), mustRead(t, pair[1])) {
			t.Errorf("%s differs between two builds", filepath.Base(pair[0]))
		}
	}
}

// checkPLG reads the manifest as Unraid's plugin manager does (XML with
// DTD entities) and checks it against the built package.
func checkPLG(t *testing.T, plg, txz string) {
	t.Helper()
	raw, err := os.ReadFile(plg)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`@[A-Z0-9_]+@`).Match(raw) {
		t.Error("placeholders left in towerd.plg")
	}
	entities := map[string]string{}
	for _, m := range regexp.MustCompile(`<!ENTITY\s+(\w+)\s+"([^"]*)">`).FindAllStringSubmatch(string(raw), -1) {
		entities[m[1]] = m[2]
	}
	ref := regexp.MustCompile(`&(\w+);`)
	for i := 0; i < 5; i++ { // entities refer to entities
		for k, v := range entities {
			entities[k] = ref.ReplaceAllStringFunc(v, func(s string) string {
				if r, ok := entities[s[1:len(s)-1]]; ok {
					return r
				}
				return s
			})
		}
	}
	var doc struct {
		Name      string `xml:"name,attr"`
		Version   string `xml:"version,attr"`
		PluginURL string `xml:"pluginURL,attr"`
		Files     []struct {
			Name   string `xml:"Name,attr"`
			Run    string `xml:"Run,attr"`
			Method string `xml:"Method,attr"`
			URL    string `xml:"URL"`
			MD5    string `xml:"MD5"`
			SHA256 string `xml:"SHA256"`
			Inline string `xml:"INLINE"`
		} `xml:"FILE"`
	}
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Entity = entities
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("towerd.plg is not valid XML: %v", err)
	}
	sum := md5.Sum(mustRead(t, txz))
	sum256 := sha256.Sum256(mustRead(t, txz))
	pkgName := filepath.Base(txz)
	if doc.Name != "towerd" || !strings.Contains(pkgName, "-"+doc.Version+"-") {
		t.Errorf("plg name %q version %q; package %s", doc.Name, doc.Version, pkgName)
	}
	var pkgFile, install, remove bool
	for _, f := range doc.Files {
		switch {
		case strings.HasSuffix(f.Name, "/"+pkgName):
			pkgFile = true
			if f.MD5 != hex.EncodeToString(sum[:]) || f.SHA256 != hex.EncodeToString(sum256[:]) || f.Run != "upgradepkg --install-new" {
				t.Errorf("package FILE: %+v (md5 of package %x, sha256 %x)", f, sum, sum256)
			}
			// The download address comes from RELEASE_URL (GitHub's layout).
			if want := testReleaseURL + "/download/v" + strings.ReplaceAll(doc.Version, "_", "-") + "/" + pkgName; f.URL != want {
				t.Errorf("package URL %s, want %s", f.URL, want)
			}
			if !strings.HasPrefix(f.Name, "/boot/config/plugins/towerd/") {
				t.Errorf("package kept at %s, want under /boot/config/plugins/towerd/", f.Name)
			}
		case f.Method == "remove":
			remove = strings.Contains(f.Inline, "rc.towerd stop") && strings.Contains(f.Inline, "removepkg")
		case strings.Contains(f.Inline, "rc.towerd start"):
			install = strings.Contains(f.Inline, "/boot/config/plugins/towerd/towerd.cfg")
		}
	}
	if want := testReleaseURL + "/latest/download/towerd.plg"; doc.PluginURL != want {
		t.Errorf("pluginURL %s, want %s", doc.PluginURL, want)
	}
	if !pkgFile || !install || !remove {
		t.Errorf("plg: package FILE %v, install step %v, remove step %v", pkgFile, install, remove)
	}
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

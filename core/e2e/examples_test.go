package e2e

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// The SDK's example plugins: a Go plugin in its own module (sdk/examples/psi)
// and a Node.js plugin (sdk/examples/node-tcpstates).
var (
	psiDir  = filepath.Join(coretest.RepoRoot(), "sdk", "examples", "psi")
	nodeDir = filepath.Join(coretest.RepoRoot(), "sdk", "examples", "node-tcpstates")
)

// The out-of-tree Go example's own `go test` passes — its tests use the
// plugin test kit through the real handshake — so a third party's go test
// proves their plugin against towerd the same way.
func TestOutOfTreeExampleOwnTests(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = psiDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in %s: %v\n%s", psiDir, err, out)
	}
}

// The out-of-tree Go example, built in its own module and dropped into
// plugins.d, is listed, served on REST and broadcast on the WebSocket.
func TestOutOfTreeGoPluginInTowerd(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, psiDir)
	a := coretest.Start(t, coretest.Options{
		Plugins: map[string]string{"psi": bin},
		Config:  `{"collectors":{"psi":{"options":{"proc":"` + filepath.Join(psiDir, "testdata", "proc") + `"}}}}`,
	})
	ws := a.Dial(t)
	c := a.WaitCollector(t, "psi", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	if c.Version != "1.0.0" || c.Topic != "psi_update" || c.IntervalSeconds != 10 {
		t.Errorf("psi listed as %+v, want version 1.0.0, topic psi_update, its default interval 10", c)
	}
	ev := ws.WaitTopic(t, "psi_update", 15*time.Second)
	var p struct {
		Available bool `json:"available"`
		CPU       struct {
			Some struct{ Avg10 float64 } `json:"some"`
		} `json:"cpu"`
	}
	if err := json.Unmarshal(ev.Data, &p); err != nil || !p.Available || p.CPU.Some.Avg10 != 59.07 {
		t.Errorf("psi_update data %s (%v), want the fixture's numbers", ev.Data, err)
	}
	var rest json.RawMessage
	a.GetJSON(t, "/api/v1/collectors/psi/data", &rest)
	if err := plugintest.CheckPayload(rest); err != nil || !strings.Contains(string(rest), `"avg10":59.07`) {
		t.Errorf("GET /collectors/psi/data = %s (%v)", rest, err)
	}

	// The same binary under another file name is refused: the name is the
	// plugin's identity.
	b := coretest.Start(t, coretest.Options{Plugins: map[string]string{"pressure": bin}})
	c = b.WaitCollector(t, "pressure", 15*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" })
	if !strings.Contains(c.LastError, `plugin file "pressure" calls itself "psi"`) {
		t.Errorf("renamed plugin: last_error %q", c.LastError)
	}
}

var npmOnce sync.Once

// nodePlugin returns the Node.js example's executable after making sure
// node and its npm packages are there (npm ci when node_modules is absent).
func nodePlugin(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		plugintest.Unavailable(t, "node (Debian package nodejs) for the Node.js example plugin")
	}
	var npmErr error
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@grpc", "grpc-js")); err == nil {
			return
		}
		if _, err := exec.LookPath("npm"); err != nil {
			npmErr = errors.New("npm not installed")
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = nodeDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = errors.New("npm ci: " + err.Error() + "\n" + string(out))
		}
	})
	if npmErr != nil {
		plugintest.Unavailable(t, "the Node.js example's npm packages: %v", npmErr)
	}
	return filepath.Join(nodeDir, "tcpstates")
}

// The Node.js plugin passes the same contract checks as a Go plugin:
// cookie, handshake, health, Describe, Configure, Collect, Act with error
// codes, and a clean shutdown.
func TestNodePluginContract(t *testing.T) {
	t.Parallel()
	res := plugintest.Check(t, nodePlugin(t), plugintest.Contract{})
	if res.Info.Topic != "tcpstates_update" || res.Info.DefaultInterval != 30*time.Second ||
		len(res.Info.Actions) != 1 || res.Info.Actions[0] != "check_port" {
		t.Errorf("Describe = %+v", res.Info)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	p := res.Plugin
	var data struct {
		Available bool           `json:"available"`
		States    map[string]int `json:"states"`
		Listening []struct {
			Address string `json:"address"`
			Port    int    `json:"port"`
		} `json:"listening"`
	}
	p.CollectJSON(t, &data)
	found := false
	for _, l := range data.Listening {
		found = found || strconv.Itoa(l.Port) == port && l.Address == "127.0.0.1"
	}
	if !data.Available || data.States["LISTEN"] < 1 || !found {
		t.Errorf("collect: %+v, want 127.0.0.1:%s listening", data, port)
	}
	ctx := t.Context()
	if msg, err := p.Act(ctx, sdk.Action{Name: "check_port", Target: port}); err != nil || !strings.Contains(msg, "127.0.0.1") {
		t.Errorf("check_port %s = %q, %v", port, msg, err)
	}
	ln.Close()
	if _, err := p.Act(ctx, sdk.Action{Name: "check_port", Target: port}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("check_port on a closed port: %v, want ErrNotFound", err)
	}
	if _, err := p.Act(ctx, sdk.Action{Name: "check_port", Target: "http"}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("check_port http: %v, want ErrInvalidArgument", err)
	}
	if err := p.Configure(ctx, sdk.Config{Options: map[string]string{"proc": "relative"}}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("Configure(proc=relative): %v, want ErrInvalidArgument", err)
	}
}

// towerd loads the Node.js plugin like any other: listed with its version,
// topic and state, its payload on REST and the WebSocket (listing towerd's
// own port), and stopped with towerd.
func TestNodePluginInTowerd(t *testing.T) {
	t.Parallel()
	script := nodePlugin(t)
	// plugins.d gets a launcher; the script stays beside its node_modules.
	launcher := filepath.Join(t.TempDir(), "tcpstates")
	if err := os.WriteFile(launcher, []byte("#!/bin/sh\nexec "+script+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Merge(coretest.Plugins(t, "system"), map[string]string{"tcpstates": launcher})})
	ws := a.Dial(t)
	c := a.WaitCollector(t, "tcpstates", 20*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	if c.Version != "1.0.0" || c.Topic != "tcpstates_update" || c.IntervalSeconds != 30 || c.PID == 0 {
		t.Errorf("tcpstates listed as %+v", c)
	}
	_, port, _ := net.SplitHostPort(a.Addr)
	ev := ws.WaitTopic(t, "tcpstates_update", 20*time.Second)
	if !strings.Contains(string(ev.Data), `"port":`+port) || ev.Event != "update" {
		t.Errorf("tcpstates_update %+v does not list towerd's port %s", ev, port)
	}
	var rest json.RawMessage
	a.GetJSON(t, "/api/v1/collectors/tcpstates/data", &rest)
	if err := plugintest.CheckPayload(rest); err != nil || !strings.Contains(string(rest), `"states"`) {
		t.Errorf("GET /collectors/tcpstates/data = %s (%v)", rest, err)
	}
	// Logs from the Node process arrive through hclog under its name.
	plugintest.Eventually(t, 5*time.Second, func() bool {
		return strings.Contains(a.Log(), "plugin.tcpstates") && strings.Contains(a.Log(), "serving")
	}, "no log line from the Node.js plugin:\n%s", a)
	// Disabling stops the process at once (GRPCController.Shutdown).
	start := time.Now()
	mustOK(t, a, "POST", "/api/v1/collectors/tcpstates/disable", "")
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("disable took %v: the plugin did not exit on Shutdown", took)
	}
	if c := a.Collector(t, "tcpstates"); c.Status != "disabled" || c.PID != 0 {
		t.Errorf("after disable: %+v", c)
	}
}

package plugintest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
)

// testPlugin returns the core's misbehaving test plugin under name (its
// mode comes from the name).
func testPlugin(t *testing.T, name string) string {
	// In the host's module, which holds this SDK's directory.
	bin := Build(t, "../../core/internal/testplugin")
	dst := filepath.Join(t.TempDir(), name)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// recorder is a testing.TB that records the first fatal failure instead of
// failing the real test, so the kit's own refusals can be checked.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failure  string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure == "" {
		r.failure = fmt.Sprintf(format, args...)
	}
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// check runs Check on path against a recorder and returns its failure.
func check(t *testing.T, path string, c Contract) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); Check(r, path, c) }()
	<-done
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r.failure
}

// Check passes a well-behaved plugin and fails each kind of bad one with
// a reason naming the breach.
func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, want string }{
		{"echo", ""},
		{"bundle", ""},
		{"badjson", "Collect 1: payload breaks the contract: not valid JSON"},
		{"exit", "handshake:"},
		{"junk", "magic cookie: run without TOWERD_PLUGIN set, the plugin exited with status 0"},
		{"newproto", "incompatible API version"},
		{"slow", "Collect 1: context deadline exceeded"}, // overruns the deadline below
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := check(t, testPlugin(t, tc.name), Contract{
				Timeout: 3 * time.Second,
				Config:  sdk.Config{Options: map[string]string{"delay_ms": "5000"}},
			})
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("Check(%s) failure %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

// Check puts every collector of a bundle through the contract and
// returns each one's payloads.
func TestCheckBundle(t *testing.T) {
	t.Parallel()
	res := Check(t, testPlugin(t, "bundle"), Contract{Collects: 3})
	if len(res.Collectors) != 2 || res.Info.Name != "bundle_one" || len(res.Payloads) != 3 {
		t.Fatalf("result %+v", res)
	}
	for _, c := range res.Collectors {
		if len(res.PayloadsOf[c.Name]) != 3 || c.Topic != c.Name+"_update" {
			t.Errorf("collector %+v: %d payloads", c, len(res.PayloadsOf[c.Name]))
		}
	}
	single := Check(t, testPlugin(t, "echo"), Contract{})
	if len(single.Collectors) != 1 || single.Collectors[0].Name != "echo" || len(single.PayloadsOf["echo"]) != 2 {
		t.Errorf("single-collector result %+v", single)
	}
}

func TestCheckInfo(t *testing.T) {
	t.Parallel()
	good := sdk.Info{Name: "zfs", Version: "1.0.0", Topic: "zfs_update", DefaultInterval: 30 * time.Second}
	cases := []struct {
		mod  func(*sdk.Info)
		file string
		want string
	}{
		{func(*sdk.Info) {}, "zfs", ""},
		{func(i *sdk.Info) { i.DefaultInterval = 0 }, "zfs", ""},
		{func(*sdk.Info) {}, "zfs2", `calls itself "zfs" but its file is named "zfs2"`},
		{func(i *sdk.Info) { i.Name = "ZFS" }, "ZFS", "not 1-64 of a-z"},
		{func(i *sdk.Info) { i.Topic = "zfs" }, "zfs", "does not end in _update"},
		{func(i *sdk.Info) { i.Version = "" }, "zfs", "no version"},
		{func(i *sdk.Info) { i.DefaultInterval = time.Second }, "zfs", "below towerd's minimum"},
	}
	for _, tc := range cases {
		info := good
		tc.mod(&info)
		err := CheckInfo(info, tc.file)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckInfo(%+v, %q) = %v, want %q", info, tc.file, err, tc.want)
		}
	}
}

func TestCheckPayload(t *testing.T) {
	t.Parallel()
	ts := `"timestamp":"2026-11-23T13:33:00Z"`
	cases := map[string]string{
		`{` + ts + `}`:                         "",
		`[]`:                                   "",
		`[{` + ts + `},{` + ts + `}]`:          "",
		`{"a":1}`:                              `no "timestamp"`,
		`[{` + ts + `},{"a":1}]`:               "item 1",
		`[1]`:                                  "item 0 is not an object",
		`"x"`:                                  "want an object or an array",
		`{"timestamp":"yesterday"}`:            "not RFC 3339",
		`{"timestamp":"0001-01-01T00:00:00Z"}`: "not set",
		`{`:                                    "not valid JSON",
	}
	for payload, want := range cases {
		err := CheckPayload([]byte(payload))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckPayload(%s) = %v, want %q", payload, err, want)
		}
	}
}

package mcp_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/core/mcp"
	"github.com/towerd/towerd/sdk"
)

// control stands in for the agent behind the real REST router: it declares
// collectors and records the actions that reach it.
type control struct {
	mu   sync.Mutex
	list []api.CollectorStatus
	acts []string
}

func (c *control) Collectors() []api.CollectorStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]api.CollectorStatus(nil), c.list...)
}

func (c *control) Collector(name string) (api.CollectorStatus, error) {
	for _, s := range c.Collectors() {
		if s.Name == name {
			return s, nil
		}
	}
	return api.CollectorStatus{}, api.ErrUnknownCollector
}

func (c *control) SetEnabled(string, bool) error           { return nil }
func (c *control) SetInterval(string, time.Duration) error { return nil }

func (c *control) Act(_ context.Context, coll string, a sdk.Action) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var params []string
	for k, v := range a.Params {
		params = append(params, k+"="+v)
	}
	c.acts = append(c.acts, coll+" "+a.Name+" "+a.Target+" "+strings.Join(params, ","))
	return "done", nil
}

func (c *control) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.acts) == 0 {
		return ""
	}
	return c.acts[len(c.acts)-1]
}

// Each action tool becomes the REST request a client would send, and the
// real router's validation decides: what reaches the control path is
// exactly what REST would pass on.
func TestActionToolsGoThroughREST(t *testing.T) {
	ctl := &control{list: []api.CollectorStatus{
		{Name: "docker", Installed: true, Enabled: true, Status: "running", Topic: "container_list_update", Actions: []string{"start", "restart"}},
		{Name: "vm", Installed: true, Enabled: true, Status: "running", Topic: "vm_list_update", Actions: []string{"reset"}},
		{Name: "array", Installed: true, Enabled: true, Status: "running", Topic: "array_status_update", Actions: []string{"parity-check-start"}},
		{Name: "get", Installed: true, Enabled: true, Status: "running", Topic: "get_update", Actions: []string{"docker"}},
	}}
	b := bus.New()
	b.Publish("container_list_update", []byte(`[{"name":"plex"}]`))
	router := api.New(b, ctl, http.NotFoundHandler())
	srv := mcp.New(mcp.HandlerBackend(router), mcp.Options{Version: "test", ReadOnly: true})
	st, ct := sdkmcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := srv.SDK().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	// Read-only instance first: the same list yields no action tools.
	names := toolNames(t, cs)
	for _, n := range names {
		if n == "docker_start" || n == "vm_reset" {
			t.Fatalf("read-only server lists %s", n)
		}
	}

	rw := mcp.New(mcp.HandlerBackend(router), mcp.Options{Version: "test"})
	st2, ct2 := sdkmcp.NewInMemoryTransports()
	ss2, err := rw.SDK().Connect(ctx, st2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss2.Close()
	cs2, err := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx, ct2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs2.Close()
	names = toolNames(t, cs2)
	if !slices.Contains(names, "get_docker") || !slices.Contains(names, "docker_restart") {
		t.Fatalf("tools: %v", names)
	}

	cases := []struct {
		tool    string
		args    map[string]any
		reached string // what the control path saw; "" when REST refused
		errText string
	}{
		{"docker_restart", map[string]any{"id": "plex", "params": map[string]any{"timeout": 30}}, "docker restart plex timeout=30", ""},
		{"docker_start", map[string]any{"id": "0123456789ab"}, "docker start 0123456789ab ", ""},
		{"docker_start", map[string]any{"id": "../../etc"}, "", "invalid container id"},
		{"docker_start", map[string]any{"id": "-rf"}, "", "invalid container id"},
		{"docker_start", map[string]any{}, "", `"id"`},
		{"docker_start", map[string]any{"id": "plex", "force": true}, "", "unknown argument"},
		{"docker_start", map[string]any{"id": "plex", "params": "x"}, "", "must be an object"},
		{"vm_reset", map[string]any{"name": "Windows 11"}, "", "confirm"},
		{"vm_reset", map[string]any{"name": "Windows 11", "params": map[string]any{"confirm": true}}, "vm reset Windows 11 confirm=true", ""},
		{"vm_reset", map[string]any{"name": "bad;name", "params": map[string]any{"confirm": true}}, "", "invalid VM name"},
		{"array_parity-check-start", map[string]any{"correcting": true}, "array parity-check-start  correcting=true", ""},
		{"array_parity-check-start", nil, "array parity-check-start  ", ""},
	}
	for _, tc := range cases {
		before := ctl.last()
		text, isErr := call(t, cs2, tc.tool, tc.args)
		after := ctl.last()
		switch {
		case tc.reached != "" && (isErr || after != tc.reached):
			t.Errorf("%s %v: error=%v %q; control saw %q, want %q", tc.tool, tc.args, isErr, text, after, tc.reached)
		case tc.reached == "" && (!isErr || !strings.Contains(text, tc.errText) || after != before):
			t.Errorf("%s %v: error=%v %q (control saw %q), want refused with %q", tc.tool, tc.args, isErr, text, after, tc.errText)
		}
	}
	// The clash: collector "get" declares "docker", whose tool name would
	// be get_docker, the docker read tool; the read tool stays.
	if text, isErr := call(t, cs2, "get_docker", nil); isErr || text != `[{"name":"plex"}]` || strings.Contains(ctl.last(), "get docker") {
		t.Errorf("get_docker: error=%v %q, control saw %q", isErr, text, ctl.last())
	}
}

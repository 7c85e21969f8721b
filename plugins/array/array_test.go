package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/emhttpd/emhttpdtest"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
	"github.com/towerd/towerd/sdk/schema"
)

const fixtureRoot = "../../testdata/unraid"

// The fixture array: 2 parity (8 TB) + 4 data disks (3×4 TB, 8 TB) + a
// cache pool, a non-correcting dual-parity check at 40 %.
var fixtureArray = schema.Array{
	State:                "STARTED",
	NumDisks:             6,
	NumDataDisks:         4,
	NumParityDisks:       2,
	SyncPercent:          40,
	ParityValid:          true,
	ParityCheckStatus:    "running",
	ParityCheckRunning:   true,
	ParityCheckProgress:  40,
	TotalBytes:           19527272056 * 1024, // Σ data fsSize KiB
	UsedBytes:            9128690176 * 1024,
	FreeBytes:            10398581880 * 1024,
	UsedPercent:          46.75,
	SyncAction:           "check P Q",
	SyncErrors:           0,
	SyncSpeed:            ptr("190.0 MB/s"),
	SyncETA:              ptr("7h 1m"),
	SyncSpeedBytesPerSec: 189952000, // 5565000 KiB in 30 s
	SyncETASeconds:       25274,     // (7814026584-3125610634) KiB at 185500 KiB/s
	TotalDisks:           6,
}

func ptr(s string) *string { return &s }

func TestCollectFixture(t *testing.T) {
	c := newCollector()
	if err := c.Configure(context.Background(), sdk.Config{Root: fixtureRoot}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := got.(schema.Array)
	if a.Timestamp.IsZero() || time.Since(a.Timestamp) > time.Minute {
		t.Errorf("timestamp %v not set to now", a.Timestamp)
	}
	a.Timestamp = time.Time{}
	if !reflect.DeepEqual(a, fixtureArray) {
		t.Errorf("array =\n%+v\nwant\n%+v", a, fixtureArray)
	}
}

// TestParityStates covers every mdResync state the md driver reports.
func TestParityStates(t *testing.T) {
	const size = 7814026584
	base := unraid.Var{MdState: "STARTED", MdNumDisks: 3}
	tests := []struct {
		name string
		v    func(v *unraid.Var)
		want parityState
	}{
		{"idle", func(v *unraid.Var) {}, parityState{status: "idle"}},
		{"idle with last action left", func(v *unraid.Var) { v.MdResyncAction = "check P"; v.MdResyncSize = size },
			parityState{status: "idle"}},
		{"check running", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction = size, size, size/4, 10, 2000000, "check P"
		}, parityState{status: "running", action: "check P", progress: 25, speed: 204800000, eta: 29302}},
		{"correcting check running", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction, v.MdResyncCorr = size, size, size/2, 10, 2000000, "check P Q", "1"
		}, parityState{status: "running", action: "check P Q", progress: 50, speed: 204800000, eta: 19535}},
		{"paused (Dt 0, Pos > 0)", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction = size, size, size/10, 0, 0, "check P"
		}, parityState{status: "paused", action: "check P", progress: 10}},
		{"paused with mdResync 0", func(v *unraid.Var) {
			v.MdResyncSize, v.MdResyncPos, v.MdResyncAction = size, size*3/4, "check P"
		}, parityState{status: "paused", action: "check P", progress: 75}},
		{"reconstructing", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction = size, size, 1000, 5, 1000000, "recon D5"
		}, parityState{status: "reconstructing", action: "recon D5", progress: 0, speed: 204800000, eta: 39070}},
		{"clearing", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction = size, size, size, 5, 1000000, "clear"
		}, parityState{status: "clearing", action: "clear", progress: 100, speed: 204800000}},
		{"just started (Pos 0)", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncAction = size, size, "check P"
		}, parityState{status: "running", action: "check P"}},
		{"no size: mdResync used", func(v *unraid.Var) {
			v.MdResync, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction = 1000, 500, 1, 100, "check P"
		}, parityState{status: "running", action: "check P", progress: 50, speed: 102400, eta: 5}},
		{"pos past size is clamped", func(v *unraid.Var) {
			v.MdResync, v.MdResyncSize, v.MdResyncPos, v.MdResyncDt, v.MdResyncDb, v.MdResyncAction = 100, 100, 500, 1, 1, "check P"
		}, parityState{status: "running", action: "check P", progress: 100, speed: 1024}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			tc.v(&v)
			if got := parity(v); got != tc.want {
				t.Errorf("parity = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDerivedFields checks state, parity_valid, sync_percent and
// parity_check_running for each parity state and disk situation.
func TestDerivedFields(t *testing.T) {
	slots, err := unraid.ReadDisks(fixtureRoot)
	if err != nil {
		t.Fatal(err)
	}
	withStatus := func(section, status string) []unraid.Slot {
		out := append([]unraid.Slot(nil), slots...)
		for i := range out {
			if out[i].Section == section {
				out[i].Status = status
			}
		}
		return out
	}
	noParity := []unraid.Slot{}
	for _, s := range slots {
		if s.Type != "Parity" {
			noParity = append(noParity, s)
		}
	}
	idle := unraid.Var{MdState: "STARTED", MdNumDisks: 6, SbSynced: 1763895600}
	paused := idle
	paused.MdResyncSize, paused.MdResyncPos, paused.MdResyncAction = 1000, 250, "check P Q"
	recon := idle
	recon.MdResync, recon.MdResyncSize, recon.MdResyncPos, recon.MdResyncDt, recon.MdResyncDb, recon.MdResyncAction = 1000, 1000, 100, 1, 10, "recon D2"
	invalid := idle
	invalid.MdNumInvalid = 1
	stopped := idle
	stopped.MdState = "STOPPED"
	synced0 := idle
	synced0.SbSynced = 0
	type want struct {
		state        string
		valid        bool
		status       string
		running      bool
		syncPct      float64
		progress     float64
		numDisks     int
		parityDisks  int
		dataDisks    int
		syncAction   string
		syncErrorsIn int64
	}
	tests := []struct {
		name    string
		v       unraid.Var
		haveVar bool
		slots   []unraid.Slot
		want    want
	}{
		{"idle, parity valid", idle, true, slots, want{"STARTED", true, "idle", false, 100, 0, 6, 2, 4, "", 0}},
		{"sbSynced 0 does not make parity invalid", synced0, true, slots, want{"STARTED", true, "idle", false, 100, 0, 6, 2, 4, "", 0}},
		{"paused check", paused, true, slots, want{"STARTED", true, "paused", false, 25, 25, 6, 2, 4, "check P Q", 0}},
		{"rebuild", recon, true, slots, want{"STARTED", true, "reconstructing", false, 10, 10, 6, 2, 4, "recon D2", 0}},
		{"invalid disk", invalid, true, slots, want{"STARTED", false, "idle", false, 0, 0, 6, 2, 4, "", 0}},
		{"disabled parity", idle, true, withStatus("parity2", "DISK_DSBL"), want{"STARTED", false, "idle", false, 0, 0, 6, 2, 4, "", 0}},
		{"disabled data disk keeps parity valid", idle, true, withStatus("disk2", "DISK_DSBL"), want{"STARTED", true, "idle", false, 100, 0, 6, 2, 4, "", 0}},
		{"no parity disks", idle, true, noParity, want{"STARTED", false, "idle", false, 0, 0, 4, 0, 4, "", 0}},
		{"stopped", stopped, true, slots, want{"STOPPED", true, "idle", false, 100, 0, 6, 2, 4, "", 0}},
		{"no disks.ini: counts from var.ini", idle, true, nil, want{"STARTED", true, "idle", false, 100, 0, 6, 0, 0, "", 0}},
		{"not an Unraid host", unraid.Var{}, false, nil, want{StateUnknown, false, "idle", false, 0, 0, 0, 0, 0, "", 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := build(tc.v, tc.haveVar, tc.slots)
			got := want{a.State, a.ParityValid, a.ParityCheckStatus, a.ParityCheckRunning, a.SyncPercent, a.ParityCheckProgress,
				a.NumDisks, a.NumParityDisks, a.NumDataDisks, a.SyncAction, a.SyncErrors}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestPluginProcess runs the built plugin through the real handshake: on
// the fixture tree, and on a root that is not Unraid.
func TestPluginProcess(t *testing.T) {
	bin := plugintest.Build(t, "github.com/towerd/towerd/plugins/array")
	root, _ := filepath.Abs(fixtureRoot)
	for _, tc := range []struct {
		name string
		root string
		want schema.Array
	}{
		{"fixture", root, fixtureArray},
		{"not unraid", t.TempDir(), schema.Array{State: StateUnknown, ParityCheckStatus: "idle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plugintest.Start(t, bin)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			info, err := p.Describe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != "array" || info.Topic != schema.TopicArray || info.DefaultInterval != 10*time.Second {
				t.Errorf("Describe = %+v", info)
			}
			unraidtest.Configure(t, p, sdk.Config{Root: tc.root})
			for i := 0; i < 3; i++ {
				var a schema.Array
				start := time.Now()
				raw := p.CollectJSON(t, &a)
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("collect took %v", d)
				}
				a.Timestamp = time.Time{}
				if !reflect.DeepEqual(a, tc.want) {
					t.Errorf("collect %d =\n%+v\nwant\n%+v", i, a, tc.want)
				}
				for _, key := range []string{`"state"`, `"parity_check_status"`, `"num_disks"`, `"total_bytes"`, `"used_percent"`} {
					if !strings.Contains(string(raw), key) {
						t.Errorf("payload lacks %s: %s", key, raw)
					}
				}
			}
		})
	}
}

// TestActions writes parity commands to <root>/proc/mdcmd (a regular file
// standing in for the md driver's command file) and checks what was
// written and which states are refused.
func TestActions(t *testing.T) {
	idle := "mdState=\"STARTED\"\nmdResync=\"0\"\nmdResyncPos=\"0\"\n"
	running := "mdState=\"STARTED\"\nmdResync=\"1000\"\nmdResyncSize=\"1000\"\nmdResyncPos=\"10\"\nmdResyncDt=\"5\"\nmdResyncDb=\"100\"\nmdResyncAction=\"check P\"\n"
	paused := "mdState=\"STARTED\"\nmdResync=\"1000\"\nmdResyncSize=\"1000\"\nmdResyncPos=\"10\"\nmdResyncDt=\"0\"\nmdResyncAction=\"check P\"\n"
	stopped := "mdState=\"STOPPED\"\n"
	tests := []struct {
		name    string
		varIni  string
		mdcmd   bool
		action  sdk.Action
		written string
		err     error
	}{
		{"start", idle, true, sdk.Action{Name: ActParityStart}, "check NOCORRECT\n", nil},
		{"start correcting", idle, true, sdk.Action{Name: ActParityStart, Params: map[string]string{"correcting": "true"}}, "check CORRECT\n", nil},
		{"start while running", running, true, sdk.Action{Name: ActParityStart}, "", sdk.ErrConflict},
		{"start on stopped array", stopped, true, sdk.Action{Name: ActParityStart}, "", sdk.ErrConflict},
		{"stop", running, true, sdk.Action{Name: ActParityStop}, "nocheck\n", nil},
		{"stop paused", paused, true, sdk.Action{Name: ActParityStop}, "nocheck\n", nil},
		{"stop when idle", idle, true, sdk.Action{Name: ActParityStop}, "", sdk.ErrConflict},
		{"pause", running, true, sdk.Action{Name: ActParityPause}, "pause\n", nil},
		{"pause when paused", paused, true, sdk.Action{Name: ActParityPause}, "", sdk.ErrConflict},
		{"resume", paused, true, sdk.Action{Name: ActParityResume}, "resume\n", nil},
		{"resume when running", running, true, sdk.Action{Name: ActParityResume}, "", sdk.ErrConflict},
		{"bad correcting", idle, true, sdk.Action{Name: ActParityStart, Params: map[string]string{"correcting": "yes please"}}, "", sdk.ErrInvalidArgument},
		{"unknown param", idle, true, sdk.Action{Name: ActParityStop, Params: map[string]string{"force": "1"}}, "", sdk.ErrInvalidArgument},
		{"target", idle, true, sdk.Action{Name: ActParityStart, Target: "disk1"}, "", sdk.ErrInvalidArgument},
		{"unknown action", idle, true, sdk.Action{Name: "spin-down"}, "", sdk.ErrUnsupported},
		{"no mdcmd: not Unraid", idle, false, sdk.Action{Name: ActParityStart}, "", sdk.ErrUnavailable},
		{"no var.ini", "", true, sdk.Action{Name: ActParityStart}, "", sdk.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.varIni != "" {
				unraidtest.WriteFile(t, root, unraid.VarIni, tc.varIni)
			}
			md := filepath.Join(root, unraid.MdCmd)
			if tc.mdcmd {
				unraidtest.WriteFile(t, root, unraid.MdCmd, "")
			}
			c := newCollector()
			if err := c.Configure(context.Background(), sdk.Config{Root: root}); err != nil {
				t.Fatal(err)
			}
			msg, err := c.Act(context.Background(), tc.action)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && msg == "" {
				t.Error("empty result message")
			}
			got, _ := os.ReadFile(md)
			if string(got) != tc.written {
				t.Errorf("mdcmd got %q, want %q", got, tc.written)
			}
			if !tc.mdcmd {
				if _, err := os.Stat(md); !os.IsNotExist(err) {
					t.Error("Act created proc/mdcmd")
				}
			}
		})
	}
}

// TestActThroughPlugin: an action crosses gRPC with its error class intact,
// and the fixture tree (which has no proc/mdcmd) is never written to.
func TestActThroughPlugin(t *testing.T) {
	bin := plugintest.Build(t, "github.com/towerd/towerd/plugins/array")
	p := plugintest.Start(t, bin)
	ctx := context.Background()
	root, _ := filepath.Abs(fixtureRoot)
	unraidtest.Configure(t, p, sdk.Config{Root: root})
	if _, err := p.Act(ctx, sdk.Action{Name: ActParityStop}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("stop on the fixture: %v, want unavailable (no proc/mdcmd)", err)
	}
	if _, err := p.Act(ctx, sdk.Action{Name: ActParityStart}); !errors.Is(err, sdk.ErrConflict) {
		t.Errorf("start while the fixture's check runs: %v, want conflict", err)
	}
	if _, err := p.Act(ctx, sdk.Action{Name: "format-disk"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("unknown action: %v, want unsupported", err)
	}
	if _, err := os.Stat(filepath.Join(root, unraid.MdCmd)); !os.IsNotExist(err) {
		t.Error("the fixture tree gained a proc/mdcmd")
	}
}

// TestArrayControlThroughEmhttpd runs the plugin process against a
// stand-in emhttpd under a temporary root: the exact request of each
// action, the csrf_token read fresh each time, the state checks (nothing
// is sent on a 409), a non-200 answer, and the /proc/mdcmd fallback
// where there is no socket.
func TestArrayControlThroughEmhttpd(t *testing.T) {
	bin := plugintest.Build(t, "github.com/towerd/towerd/plugins/array")
	p := plugintest.Start(t, bin)
	ctx := context.Background()
	root := t.TempDir()
	srv := emhttpdtest.Start(t, root)
	unraidtest.Configure(t, p, sdk.Config{Root: root})
	setVar := func(state, token string) {
		unraidtest.WriteFile(t, root, unraid.VarIni, "version=\"7.3.1\"\nmdState=\""+state+"\"\ncsrf_token=\""+token+"\"\n")
	}
	steps := []struct {
		state, token string
		action       sdk.Action
		wantErr      error
		wantLine     string // "" = nothing sent
	}{
		{"STOPPED", "0A1B2C3D4E5F6071", sdk.Action{Name: ActArrayStop}, sdk.ErrConflict, ""},
		{"STOPPED", "0A1B2C3D4E5F6071", sdk.Action{Name: ActArrayStart}, nil,
			"GET /update.htm?cmdStart=Start&csrf_token=0A1B2C3D4E5F6071&startState=STOPPED HTTP/1.1"},
		{"STARTED", "99AA88BB77CC66DD", sdk.Action{Name: ActArrayStart}, sdk.ErrConflict, ""},
		{"STARTED", "99AA88BB77CC66DD", sdk.Action{Name: ActArrayStop}, nil,
			"GET /update.htm?cmdStop=Stop&csrf_token=99AA88BB77CC66DD&startState=STARTED HTTP/1.1"},
		{"NEW_ARRAY", "99AA88BB77CC66DD", sdk.Action{Name: ActArrayStart}, sdk.ErrConflict, ""},
		{"STARTED", "1234", sdk.Action{Name: ActClearDiskStats, Params: map[string]string{"confirm": "true"}}, nil,
			"GET /update.htm?clearStatistics=true&csrf_token=1234 HTTP/1.1"},
		{"STARTED", "1234", sdk.Action{Name: ActClearDiskStats, Params: map[string]string{"everything": "true"}}, sdk.ErrInvalidArgument, ""},
	}
	for i, st := range steps {
		setVar(st.state, st.token)
		before := len(srv.Lines())
		msg, err := p.Act(ctx, st.action)
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
			t.Fatalf("step %d %s (%s): err %v, want %v", i, st.action.Name, st.state, err, st.wantErr)
		}
		lines := srv.Lines()[before:]
		switch {
		case st.wantLine == "" && len(lines) != 0:
			t.Errorf("step %d: sent %q although refused", i, lines)
		case st.wantLine != "" && (len(lines) != 1 || lines[0] != st.wantLine):
			t.Errorf("step %d %s: emhttpd got %q, want %q", i, st.action.Name, lines, st.wantLine)
		case err == nil && msg == "":
			t.Errorf("step %d: empty message", i)
		}
	}

	srv.SetStatus(500)
	setVar("STARTED", "1234")
	_, err := p.Act(ctx, sdk.Action{Name: ActArrayStop})
	if err == nil || !strings.Contains(err.Error(), "500") || errors.Is(err, sdk.ErrConflict) || errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("emhttpd answering 500: err %v, want a plain failure naming the status", err)
	}

	// No socket: start/stop fall back to /proc/mdcmd; clearing cannot.
	bare := t.TempDir()
	unraidtest.Configure(t, p, sdk.Config{Root: bare})
	unraidtest.WriteFile(t, bare, unraid.VarIni, "mdState=\"STOPPED\"\ncsrf_token=\"AB\"\n")
	if _, err := p.Act(ctx, sdk.Action{Name: ActArrayStart}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("no socket, no mdcmd: %v, want unavailable", err)
	}
	unraidtest.WriteFile(t, bare, unraid.MdCmd, "")
	if msg, err := p.Act(ctx, sdk.Action{Name: ActArrayStart}); err != nil || !strings.Contains(msg, "mdcmd") {
		t.Errorf("mdcmd fallback: %q %v", msg, err)
	}
	if b, _ := os.ReadFile(filepath.Join(bare, unraid.MdCmd)); string(b) != "start\n" {
		t.Errorf("mdcmd got %q, want start", b)
	}
	_, err = p.Act(ctx, sdk.Action{Name: ActClearDiskStats})
	if !errors.Is(err, sdk.ErrUnavailable) || !strings.Contains(err.Error(), "emhttpd socket not found") {
		t.Errorf("clear stats without a socket: %v", err)
	}
}

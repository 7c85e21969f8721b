package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

// The bundle as a real process: one executable serves every collector,
// each configured, collected and acted on by name over gRPC.
func TestBundleProcess(t *testing.T) {
	bin := plugintest.Build(t, ".")
	// towerd's own contract checks, for every collector of the bundle.
	res := plugintest.Check(t, bin, plugintest.Contract{Config: sdk.Config{Root: unraidtest.FixtureRoot(t)}})
	if len(res.PayloadsOf) != 13 {
		t.Fatalf("Check collected %d collectors, want 13", len(res.PayloadsOf))
	}
	p := plugintest.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := p.DescribeBundle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"notification": "notifications_update", "parity_history": "parity_history_update",
		"parity_schedule": "parity_schedule_update", "user_scripts": "user_scripts_update",
		"flash": "flash_update", "plugins": "plugins_update", "os_update": "os_update_update",
		"registration": "registration_update", "network_services": "network_services_update",
		"mover": "mover_update", "disk_thresholds": "disk_thresholds_update",
		"unassigned": "unassigned_devices_update", "fans": "fan_control_update",
	}
	if b.Name != "unraid" || len(b.Collectors) != len(want) {
		t.Fatalf("bundle %q with %d collectors: %+v", b.Name, len(b.Collectors), b.Collectors)
	}
	root := unraidtest.CopyFixture(t)
	for _, info := range b.Collectors {
		if want[info.Name] != info.Topic {
			t.Errorf("collector %s has topic %q, want %q", info.Name, info.Topic, want[info.Name])
		}
		if err := plugintest.CheckInfo(info, info.Name); err != nil {
			t.Errorf("collector %s: %v", info.Name, err)
		}
		if err := p.Configure(ctx, sdk.Config{Collector: info.Name, Root: root}); err != nil {
			t.Fatalf("Configure %s: %v", info.Name, err)
		}
		topic, payload, err := p.Collect(ctx, info.Name)
		if err != nil || topic != info.Topic {
			t.Fatalf("Collect %s: %q %v", info.Name, topic, err)
		}
		if err := plugintest.CheckPayload(payload); err != nil {
			t.Errorf("%s payload: %v\n%s", info.Name, err, payload)
		}
	}
	notif := b.Collectors[slices.IndexFunc(b.Collectors, func(i sdk.Info) bool { return i.Name == "notification" })]
	if !slices.Contains(notif.WatchPaths, "tmp/notifications/unread") {
		t.Errorf("notification watch paths %v", notif.WatchPaths)
	}
	if err := p.Configure(ctx, sdk.Config{Collector: "fans", Root: root, Options: map[string]string{"bogus": "1"}}); err == nil {
		t.Error("an unknown option was accepted")
	}

	// Actions reach the named collector; errors keep their class.
	msg, err := p.Act(ctx, sdk.Action{Collector: "notification", Name: "archive-all"})
	if err != nil || !strings.Contains(msg, "(3)") {
		t.Errorf("archive-all: %q %v", msg, err)
	}
	_, err = p.Act(ctx, sdk.Action{Collector: "fans", Name: "speed", Target: "hwmon9_fan1", Params: map[string]string{"speed_percent": "50"}})
	wantErr(t, err, sdk.ErrNotFound, "unknown fan over gRPC")
	_, err = p.Act(ctx, sdk.Action{Collector: "user_scripts", Name: "execute", Target: "../x"})
	wantErr(t, err, sdk.ErrInvalidArgument, "script name with .. over gRPC")
	_, err = p.Act(ctx, sdk.Action{Collector: "flash", Name: "speed"})
	wantErr(t, err, sdk.ErrUnsupported, "undeclared action")
	if _, _, err := p.Collect(ctx, "nosuch"); err == nil {
		t.Error("Collect of an unknown collector succeeded")
	}
}

package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
)

// The bundle as a real process: one executable serves every collector,
// each configured, collected and acted on by name over gRPC.
func TestBundleProcess(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	p, b, _ := unraidtest.CheckBundle(t, ".", "unraid", root, map[string]string{
		"notification": "notifications_update", "parity_history": "parity_history_update",
		"parity_schedule": "parity_schedule_update", "user_scripts": "user_scripts_update",
		"flash": "flash_update", "plugins": "plugins_update", "os_update": "os_update_update",
		"registration": "registration_update", "network_services": "network_services_update",
		"mover": "mover_update", "disk_thresholds": "disk_thresholds_update",
		"unassigned": "unassigned_devices_update", "fans": "fan_control_update",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
)

func TestNotificationsFixture(t *testing.T) {
	c := configured(t, newNotifications(), fixture(t), nil)
	var got Notifications
	collectInto(t, c, &got)
	if want := (NotificationCounts{Info: 1, Warning: 1, Alert: 1, Total: 3}); got.Overview.Unread != want {
		t.Errorf("unread %+v, want %+v", got.Overview.Unread, want)
	}
	if want := (NotificationCounts{Info: 2, Total: 2}); got.Overview.Archive != want {
		t.Errorf("archive %+v, want %+v", got.Overview.Archive, want)
	}
	if len(got.Notifications) != 5 || got.TotalCount != 5 {
		t.Fatalf("%d notifications, total %d; want 5", len(got.Notifications), got.TotalCount)
	}
	// Unread newest first, then archive newest first.
	first := got.Notifications[0]
	if first.ID != "Unraid_disk2_SMART_health_1763899200.notify" || first.Importance != "alert" || first.Type != "unread" ||
		first.Timestamp != "2025-11-23T12:00:00Z" || first.Link != "/Main/Device?name=disk2" {
		t.Errorf("first = %+v", first)
	}
	last := got.Notifications[4]
	if last.Type != "archive" || last.Description != `Updated containers: "plex", "sonarr"` {
		t.Errorf("last = %+v (escaped quotes must be unescaped)", last)
	}
}

func TestNotificationMalformedFile(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	unraidtest.WriteFile(t, root, "tmp/notifications/unread/Broken_1.notify", "timestamp=1\nthis line has no equals sign\n")
	unraidtest.WriteFile(t, root, "tmp/notifications/unread/Huge_2.notify", strings.Repeat("x=y\n", 40000))
	c := configured(t, newNotifications(), root, nil)
	var got Notifications
	collectInto(t, c, &got)
	if got.Overview.Unread.Total != 3 {
		t.Errorf("unread total %d: the malformed files must not count", got.Overview.Unread.Total)
	}
	errs := map[string]string{}
	for _, inv := range got.Invalid {
		errs[inv.ID] = inv.Error
	}
	if !strings.Contains(errs["Broken_1.notify"], "Broken_1.notify:2") || !strings.Contains(errs["Broken_1.notify"], "not key=value") {
		t.Errorf("malformed file error %q: want the file, line and problem", errs["Broken_1.notify"])
	}
	if !strings.Contains(errs["Huge_2.notify"], "more than") && !strings.Contains(errs["Huge_2.notify"], "larger than") {
		t.Errorf("oversized file error %q", errs["Huge_2.notify"])
	}
}

func TestNotificationActions(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	check := sentinel(t, root)
	c := configured(t, newNotifications(), root, nil)
	dir := filepath.Join(root, "tmp/notifications")

	msg, err := act(c, "create", "", map[string]string{"title": "Backup done", "subject": `Nightly "rsync"`, "description": "42 files", "importance": "warning"})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(msg, "Notification created: ")
	if err := validNotifyID(id); err != nil || !strings.HasPrefix(id, "Backup_done_") {
		t.Fatalf("created id %q: %v", id, err)
	}
	var got Notifications
	collectInto(t, c, &got)
	if got.Overview.Unread.Warning != 2 || got.Notifications[0].ID != id || got.Notifications[0].Subject != `Nightly "rsync"` {
		t.Fatalf("after create: %+v first %+v", got.Overview.Unread, got.Notifications[0])
	}

	if _, err := act(c, "archive", id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "archive", id)); err != nil {
		t.Fatalf("archived file: %v", err)
	}
	if _, err := act(c, "unarchive", id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "unread", id)); err != nil {
		t.Fatalf("unarchived file: %v", err)
	}
	if _, err := act(c, "delete", id, nil); err != nil {
		t.Fatal(err)
	}
	_, err = act(c, "delete", id, nil)
	wantErr(t, err, sdk.ErrNotFound, "delete twice")
	_, err = act(c, "archive", "Nope_1.notify", nil)
	wantErr(t, err, sdk.ErrNotFound, "archive unknown")

	for _, bad := range []string{"../outside-x/keep.notify", "..notify", "a/b.notify", "x.txt", "", "/etc/passwd", "..\x00.notify"} {
		_, err := act(c, "delete", bad, nil)
		wantErr(t, err, sdk.ErrInvalidArgument, "delete "+bad)
	}
	for _, p := range []map[string]string{{}, {"title": "x", "importance": "urgent"}, {"title": "a\nb"}, {"title": strings.Repeat("x", 5000)}} {
		_, err := act(c, "create", "", p)
		wantErr(t, err, sdk.ErrInvalidArgument, "create with bad params")
	}
	// A symlink planted in the folder cannot lead outside it.
	outside := filepath.Join(filepath.Dir(root), "outside-"+filepath.Base(root))
	if err := os.Symlink(outside, filepath.Join(dir, "archive", "Link_1.notify")); err != nil {
		t.Fatal(err)
	}
	if _, err := act(c, "delete", "Link_1.notify", nil); err == nil {
		t.Error("delete through a symlink to a folder outside the root succeeded")
	}

	msg, err = act(c, "archive-all", "", nil)
	if err != nil || !strings.Contains(msg, "(3)") {
		t.Fatalf("archive-all: %q %v", msg, err)
	}
	collectInto(t, c, &got)
	if got.Overview.Unread.Total != 0 || got.Overview.Archive.Total != 5 {
		t.Errorf("after archive-all: %+v", got.Overview)
	}
	check()
}

// A custom [notify] path in dynamix.cfg is honoured; one that climbs out
// of the root is refused.
func TestNotifyPath(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	b, _ := os.ReadFile(filepath.Join(root, unraid.DynamixCfg))
	unraidtest.WriteFile(t, root, unraid.DynamixCfg, strings.Replace(string(b), "[notify]\n", "[notify]\npath=\"/boot/config/plugins/dynamix/notifications\"\n", 1))
	unraidtest.WriteFile(t, root, "boot/config/plugins/dynamix/notifications/unread/Custom_1763899200.notify", "timestamp=1763899200\nevent=\"Custom\"\nimportance=\"alert\"\n")
	c := configured(t, newNotifications(), root, nil)
	var got Notifications
	collectInto(t, c, &got)
	if got.Overview.Unread.Total != 1 || got.Notifications[0].Title != "Custom" {
		t.Errorf("custom path: %+v", got)
	}
	unraidtest.WriteFile(t, root, unraid.DynamixCfg, strings.Replace(string(b), "[notify]\n", "[notify]\npath=\"/../../etc\"\n", 1))
	if _, err := c.Collect(t.Context()); err == nil || !strings.Contains(err.Error(), "without ..") {
		t.Errorf("path with ..: %v", err)
	}
}

// The parse cache follows the files: a rewritten file is read again, a
// removed one disappears, a new one appears.
func TestNotificationCache(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	c := configured(t, newNotifications(), root, nil)
	var got Notifications
	collectInto(t, c, &got)
	p := "tmp/notifications/unread/Unraid_Status_1763895600.notify"
	unraidtest.WriteFile(t, root, p, "timestamp=1763895600\nevent=\"Unraid Status\"\nsubject=\"rewritten, and longer than before\"\nimportance=\"alert\"\n")
	if err := os.Remove(filepath.Join(root, "tmp/notifications/archive/Unraid_Status_1761900000.notify")); err != nil {
		t.Fatal(err)
	}
	unraidtest.WriteFile(t, root, "tmp/notifications/archive/New_1.notify", "timestamp=1\nimportance=\"warning\"\n")
	collectInto(t, c, &got)
	if got.Overview.Unread != (NotificationCounts{Info: 1, Alert: 2, Total: 3}) || got.Overview.Archive != (NotificationCounts{Info: 1, Warning: 1, Total: 2}) {
		t.Errorf("after changes: %+v", got.Overview)
	}
	for _, n := range got.Notifications {
		if n.ID == "Unraid_Status_1763895600.notify" && n.Subject != "rewritten, and longer than before" {
			t.Errorf("rewritten file still shows %q", n.Subject)
		}
	}
}

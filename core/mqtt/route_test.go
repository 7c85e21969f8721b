package mqtt

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSlugAndTopicLevel(t *testing.T) {
	cases := []struct{ in, slug, level string }{
		{"disk1", "disk1", "disk1"},
		{"home-assistant_1", "home-assistant_1", "home-assistant_1"},
		{"Windows 11", "Windows_11_" + shortHash("Windows 11"), "Windows 11"},
		{"a/b", "a_b_" + shortHash("a/b"), "a_b_" + shortHash("a/b")},
		{"x+#", "x___" + shortHash("x+#"), "x___" + shortHash("x+#")},
	}
	for _, tc := range cases {
		if got := slug(tc.in); got != tc.slug {
			t.Errorf("slug(%q) = %q, want %q", tc.in, got, tc.slug)
		}
		if got := topicLevel(tc.in); got != tc.level {
			t.Errorf("topicLevel(%q) = %q, want %q", tc.in, got, tc.level)
		}
	}
	if slug("my vm") == slug("my_vm") || topicLevel("a/b") == topicLevel("a_b") {
		t.Error("two names share an id")
	}
}

// route never panics, only ever yields the command paths it documents,
// and an accepted path stays one path (no "..", no escaped separator
// turned into a real one).
func FuzzRoute(f *testing.F) {
	for _, s := range []string{"docker/plex/restart", "vm/My VM/reset", "array/parity-check/start", "collectors/gpu/interval",
		"collectors/x/actions/y", "docker/../start", "disks/%2F/spinup", "docker//x",
		"user-scripts/backup/execute", "notifications/archive/all", "notifications/a.notify/unarchive", "fans/speed"} {
		f.Add(s, []byte(`{"correcting":true}`))
	}
	allowed := []string{"/docker/", "/vm/", "/disks/", "/array/parity-check/", "/collectors/", "/user-scripts/", "/notifications/", "/fans/speed"}
	f.Fuzz(func(t *testing.T, cmd string, payload []byte) {
		method, path, _, ok := route(strings.Split(cmd, "/"), payload)
		if !ok {
			return
		}
		if method != "POST" && method != "PATCH" {
			t.Fatalf("%q: method %s", cmd, method)
		}
		prefixed := false
		for _, p := range allowed {
			prefixed = prefixed || strings.HasPrefix(path, p)
		}
		if !prefixed {
			t.Fatalf("%q routed to %q", cmd, path)
		}
		u, err := url.Parse("/api/v1" + path)
		if err != nil {
			t.Fatalf("%q: %q does not parse: %v", cmd, path, err)
		}
		for _, seg := range strings.Split(u.EscapedPath(), "/")[1:] {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("%q: path %q has segment %q", cmd, path, seg)
			}
		}
		// "/api/v1" + the command's levels, + the action word of the
		// two-level form.
		if want := len(strings.Split(cmd, "/")) + 4; len(strings.Split(u.EscapedPath(), "/")) > want {
			t.Fatalf("%q: %q has more levels than the command", cmd, path)
		}
	})
}

// The next parity check from the cron lines the webGui writes.
func TestCronNext(t *testing.T) {
	from := time.Date(2026, 11, 25, 23, 50, 0, 0, time.UTC) // a Wednesday
	cases := []struct{ spec, want string }{
		{"30 1 1 * *", "2026-12-01T01:30:00Z"},       // monthly, 1st
		{"0 0 * * 0", "2026-11-29T00:00:00Z"},        // weekly, Sunday
		{"0 0 * * 7", "2026-11-29T00:00:00Z"},        // Sunday spelled 7
		{"0 3 1 */3 *", "2027-01-01T03:00:00Z"},      // every third month from January
		{"15 2 1 1 *", "2027-01-01T02:15:00Z"},       // yearly
		{"50 23 25 11 *", "2027-11-25T23:50:00Z"},    // exactly now: the next one
		{"0 4 13 * 5", "2026-11-27T04:00:00Z"},       // day of month OR weekday
		{"*/20 * * * *", "2026-11-26T00:00:00Z"},     // steps
		{"5-7,9 12 * * 1-5", "2026-11-26T12:05:00Z"}, // ranges and lists
	}
	for _, tc := range cases {
		got, ok := cronNext(tc.spec, from)
		if !ok || got.Format(time.RFC3339) != tc.want {
			t.Errorf("cronNext(%q) = %v %v, want %s", tc.spec, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "x * * * *", "*/0 * * * *", "5-1 * * * *", "0 0 31 2 *"} {
		if got, ok := cronNext(bad, from); ok {
			t.Errorf("cronNext(%q) = %v, want no time", bad, got)
		}
	}
}

package mqtt

import (
	"net/url"
	"strings"
	"testing"
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
		"collectors/x/actions/y", "docker/../start", "disks/%2F/spinup", "docker//x"} {
		f.Add(s, []byte(`{"correcting":true}`))
	}
	allowed := []string{"/docker/", "/vm/", "/disks/", "/array/parity-check/", "/collectors/"}
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

package api

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/sdk/schema"
)

// Port conflicts come from the cached container list: running containers
// publishing the same host port and protocol; stopped ones and exposed
// ports (host_port 0) do not count. The route is matched before
// /docker/{id}.
func TestPortConflicts(t *testing.T) {
	b := bus.New()
	s := New(b, nil, http.NotFoundHandler())
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"/docker/port-conflicts", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != 200 || body != "[]" {
		t.Fatalf("before any container list: %d %s", code, body)
	}
	b.Publish(schema.TopicContainers, []byte(`[
	 {"name":"plex","state":"running","ports":[{"host_port":32400,"protocol":"tcp"},{"host_port":1900,"protocol":"udp"}]},
	 {"name":"jellyfin","state":"running","ports":[{"host_port":1900,"protocol":"udp"},{"host_port":8096,"protocol":"tcp"}]},
	 {"name":"emby","state":"running","ports":[{"host_port":1900,"protocol":"udp"},{"host_port":8096,"protocol":"tcp"},{"host_port":0,"protocol":"tcp"}]},
	 {"name":"old","state":"exited","ports":[{"host_port":32400,"protocol":"tcp"}]},
	 {"name":"web","state":"running","ports":[{"host_port":8096,"protocol":"udp"},{"host_port":0,"protocol":"tcp"}]},
	 {"name":"web2","state":"running","ports":[{"host_port":0,"protocol":"tcp"}]}
	]`))
	want := `[{"host_port":1900,"protocol":"udp","containers":["emby","jellyfin","plex"],"container_name":"emby","conflicting_container":"jellyfin"},` +
		`{"host_port":8096,"protocol":"tcp","containers":["emby","jellyfin"],"container_name":"emby","conflicting_container":"jellyfin"}]`
	if code, body := get(); code != 200 || body != want {
		t.Errorf("got %d %s\nwant %s", code, body, want)
	}
}

func FuzzFlatCfg(f *testing.F) {
	f.Add("DOCKER_ENABLED=\"yes\"\nDOCKER_CUSTOM_NETWORKS=\"br0,br0.20\"\n")
	f.Add("# comment\nSERVICE='enable'\n=\n\"\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "x.cfg")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := flatCfg(p)
		if err == nil && m == nil {
			t.Fatal("nil map without error")
		}
	})
}

// GET /docker/updates says plainly that image update checks are not
// available, instead of falling through to the container lookup.
func TestDockerUpdatesNotServed(t *testing.T) {
	s := New(bus.New(), nil, http.NotFoundHandler())
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"/docker/updates", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"success":false`) || !strings.Contains(rec.Body.String(), "registry") {
		t.Errorf("GET /docker/updates: %d %s", rec.Code, rec.Body)
	}
}

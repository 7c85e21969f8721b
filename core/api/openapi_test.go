package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"

	"github.com/towerd/towerd/core/bus"
)

// routeSet walks the router's real routes: "METHOD /path" under Prefix.
func routeSet(t *testing.T, r *mux.Router) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, Prefix+"/") {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no method restriction", tpl)
			return nil
		}
		for _, m := range methods {
			out[m+" "+strings.TrimPrefix(tpl, Prefix)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The document describes exactly the router's routes: a route added without
// documentation, or documentation of a route that does not exist, fails.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := New(bus.New(), nil, http.NotFoundHandler())
	routes := routeSet(t, s.Router())
	if len(routes) < 25 {
		t.Fatalf("walked only %d routes: %v", len(routes), routes)
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes the router lacks: %v", extra)
	}
	if !t.Failed() {
		t.Logf("%d routes, all documented", len(routes))
	}
}

// The document is valid OpenAPI 3 (every $ref resolves, parameters match
// the path templates) and is served at /api/v1/openapi.json.
func TestOpenAPIValidAndServed(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
	for _, name := range []string{"System", "Array", "Disk", "Container", "VM", "UPS", "GPU", "NetworkInterface", "Share"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("component %s missing", name)
		}
	}
	// A field spot check: the type comes from the Go payload type.
	if p := doc.Components.Schemas["UPS"].Value.Properties["runtime_left_seconds"]; p == nil || !p.Value.Type.Is("integer") {
		t.Errorf("UPS.runtime_left_seconds not an integer: %+v", p)
	}

	s := New(bus.New(), nil, http.NotFoundHandler())
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(OpenAPI()) {
		t.Error("served document differs from OpenAPI()")
	}
}

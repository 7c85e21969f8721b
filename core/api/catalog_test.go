package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/towerd/towerd/core/bus"
	"github.com/towerd/towerd/core/catalog"
)

// The built-in monitoring routes and action names are the catalog's: a
// collector added there gets its routes, and nothing else does.
func TestRoutesFollowCatalog(t *testing.T) {
	routes := routeSet(t, New(bus.New(), nil, http.NotFoundHandler()).Router())
	for _, e := range catalog.Builtins {
		if !routes["GET "+e.Path] {
			t.Errorf("%s: no GET %s", e.Name, e.Path)
		}
		if got, want := routes["GET "+e.Path+"/{id}"], e.ItemKeys != nil; got != want {
			t.Errorf("%s: GET %s/{id} routed %v, catalog item keys %q", e.Name, e.Path, got, e.ItemKeys)
		}
	}
	for _, tg := range []target{dockerTarget, vmTarget, diskTarget} {
		if !slices.Equal(tg.actions, catalog.MustLookup(tg.collector).Actions) {
			t.Errorf("%s target actions %q, catalog %q", tg.collector, tg.actions, catalog.MustLookup(tg.collector).Actions)
		}
	}
	// Every array action is reachable: parity-check-X at
	// /array/parity-check/X, array-X at /array/X, others at /array/NAME.
	for _, a := range catalog.MustLookup("array").Actions {
		if rest, ok := strings.CutPrefix(a, parityPrefix); ok {
			if !slices.Contains(parityTarget.actions, rest) {
				t.Errorf("array action %s not served by /array/parity-check/{action}", a)
			}
		} else if p := "POST /array/" + strings.TrimPrefix(a, "array-"); !routes[p] {
			t.Errorf("array action %s: no %s", a, p)
		}
	}
}

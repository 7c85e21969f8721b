package agent

import (
	"net/http"

	"github.com/towerd/towerd/core/metrics"
	"github.com/towerd/towerd/core/web"
)

// httpHandler is everything served on the port: the REST API with the
// WebSocket under /api/v1. Middleware (auth, limits) and further handlers
// (metrics, status page) are composed here, in one place.
func (a *Agent) httpHandler() http.Handler {
	r := a.api.Router()
	// Prometheus metrics, read from the bus cache and collector states.
	r.Handle("/metrics", metrics.Handler(metrics.Source{
		Bus: a.bus, Collectors: a.Collectors, WSClients: a.hub.Clients, WSDropped: a.hub.Dropped,
	})).Methods(http.MethodGet, http.MethodHead)
	// The status page.
	r.Handle("/", web.Handler()).Methods(http.MethodGet, http.MethodHead)
	return a.api
}

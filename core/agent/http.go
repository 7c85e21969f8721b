package agent

import (
	"net/http"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/diag"
	"github.com/towerd/towerd/core/metrics"
	"github.com/towerd/towerd/core/web"
)

// httpHandler is everything served on the port: the REST API with the
// WebSocket under /api/v1, Prometheus metrics, the status page and, when
// asked for, runtime diagnostics, all behind the guard (auth, limits).
// They are composed here, in one place.
func (a *Agent) httpHandler() http.Handler {
	r := a.api.Router()
	if a.opts.DebugRuntime {
		r.Handle(api.Prefix+diag.Path, diag.Handler()).Methods(http.MethodGet)
	}
	// Prometheus metrics, read from the bus cache and collector states.
	r.Handle(metrics.Path, metrics.Handler(metrics.Source{
		Bus: a.bus, Collectors: a.Collectors, WSClients: a.hub.Clients, WSDropped: a.hub.Dropped,
		MQTT: a.mqttStats,
	})).Methods(http.MethodGet, http.MethodHead)
	a.mountMCP(r) // MCP over streamable HTTP on /mcp (mcp.go), if on
	// The status page: static, public; it calls the API with the token.
	r.Handle("/", web.Handler()).Methods(http.MethodGet, http.MethodHead)
	return a.guard.Wrap(a.api)
}

package agent

import (
	"net/http"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/diag"
)

// httpHandler is everything served on the port: the REST API with the
// WebSocket under /api/v1. Middleware (auth, limits) and further handlers
// (metrics, status page) are composed here, in one place.
func (a *Agent) httpHandler() http.Handler {
	if a.opts.DebugRuntime {
		a.api.Router().Handle(api.Prefix+diag.Path, diag.Handler()).Methods(http.MethodGet)
	}
	return a.guard.Wrap(a.api)
}

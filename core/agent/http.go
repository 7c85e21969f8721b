package agent

import "net/http"

// httpHandler is everything served on the port: the REST API with the
// WebSocket under /api/v1. Middleware (auth, limits) and further handlers
// (metrics, status page) are composed here, in one place.
func (a *Agent) httpHandler() http.Handler {
	return a.api
}

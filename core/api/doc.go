// Package api is towerd's REST interface under /api/v1 (gorilla/mux),
// following docs/rest-api.md: monitoring GETs answered from the bus
// cache (never waiting on a plugin), control actions validated here and
// forwarded to the collector's plugin, and collector management.
package api

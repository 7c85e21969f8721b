// Package web is towerd's status page: one HTML page with its script and
// style embedded in the binary (no build step), served at "/". It reads
// GET /api/v1/collectors for the collectors' state, posts enable/disable and
// PATCHes intervals through the same REST API, and shows the live
// WebSocket stream with the latest value per topic. The page may not be
// framed, and a token passed as ?token= is stored and removed from the
// address bar at once.
package web

import (
	"embed"
	"net/http"
)

//go:embed static/index.html
var files embed.FS

// Handler serves the page. It answers GET and HEAD only; the router that
// mounts it decides the path.
func Handler() http.Handler {
	page, err := files.ReadFile("static/index.html")
	if err != nil {
		panic("web: embedded page missing: " + err.Error()) // a build defect, not input
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		// No other site may frame the page (clickjacking its toggles).
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(page)
		}
	})
}

package api

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/towerd/towerd/core/bus"
)

// Prefix is where every route lives.
const Prefix = "/api/v1"

// Server holds the API's dependencies.
type Server struct {
	bus     *bus.Bus
	control Control
	ws      http.Handler
	router  *mux.Router
	hostState
}

// New builds the router. ws serves the WebSocket at /api/v1/ws.
func New(b *bus.Bus, control Control, ws http.Handler) *Server {
	s := &Server{bus: b, control: control, ws: ws, router: mux.NewRouter()}
	s.routes()
	return s
}

// Router exposes the router, so other handlers (metrics, status page) can
// be mounted beside the API and tests can walk the routes.
func (s *Server) Router() *mux.Router { return s.router }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func (s *Server) routes() {
	// Match on the escaped path so an encoded "/" in an id (%2F) stays part
	// of the id, where validation refuses it, instead of becoming a path.
	s.router.UseEncodedPath()
	// Full paths on the root router: mux loses "method not allowed" when
	// routes sit in a PathPrefix subrouter.
	r := prefixed{s.router}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+quoteForMessage(r.URL.Path))
	})
	notAllowed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+quoteForMessage(r.URL.Path))
	})
	s.router.NotFoundHandler, s.router.MethodNotAllowedHandler = notFound, notAllowed

	r.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet, http.MethodHead) // HEAD: load balancers and uptime checkers
	r.Handle("/ws", s.ws).Methods(http.MethodGet)
	r.HandleFunc("/openapi.json", s.openAPI).Methods(http.MethodGet)
	s.unraidRoutes(r) // unraid.go; before the /{id} routes

	for _, e := range endpoints {
		r.HandleFunc(e.path, s.serveTopic(e)).Methods(http.MethodGet)
		if e.itemKeys != nil {
			r.HandleFunc(e.path+"/{id}", s.serveItem(e)).Methods(http.MethodGet)
		}
	}
	r.HandleFunc("/docker/{id}/{action}", s.act(dockerTarget)).Methods(http.MethodPost)
	r.HandleFunc("/vm/{id}/{action}", s.act(vmTarget)).Methods(http.MethodPost)
	r.HandleFunc("/disks/{id}/{action}", s.act(diskTarget)).Methods(http.MethodPost)
	r.HandleFunc("/array/parity-check/{action}", s.act(parityTarget)).Methods(http.MethodPost)

	r.HandleFunc("/collectors", s.listCollectors).Methods(http.MethodGet)
	r.HandleFunc("/collectors/status", s.listCollectors).Methods(http.MethodGet)
	r.HandleFunc("/collectors/{name}", s.getCollector).Methods(http.MethodGet)
	r.HandleFunc("/collectors/{name}/data", s.collectorData).Methods(http.MethodGet)
	r.HandleFunc("/collectors/{name}/enable", s.setEnabled(true)).Methods(http.MethodPost)
	r.HandleFunc("/collectors/{name}/disable", s.setEnabled(false)).Methods(http.MethodPost)
	r.HandleFunc("/collectors/{name}/interval", s.setInterval).Methods(http.MethodPatch)
	r.HandleFunc("/collectors/{name}/actions/{action}", s.collectorAction).Methods(http.MethodPost)
	s.bundleRoutes(r) // bundles.go
}

// prefixed registers routes under Prefix.
type prefixed struct{ *mux.Router }

func (p prefixed) HandleFunc(path string, h http.HandlerFunc) *mux.Route {
	return p.Router.HandleFunc(Prefix+path, h)
}

func (p prefixed) Handle(path string, h http.Handler) *mux.Route {
	return p.Router.Handle(Prefix+path, h)
}

// pathVar returns the unescaped route variable key (routes match on the
// escaped path). An undecodable value is returned as is; validation
// refuses it.
func pathVar(r *http.Request, key string) string {
	v := mux.Vars(r)[key]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

package api

import (
	"bytes"
	"net/http"
	"strconv"

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
	r := s.router.PathPrefix(Prefix).Subrouter()
	s.router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+quoteForMessage(r.URL.Path))
	})
	s.router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+quoteForMessage(r.URL.Path))
	})

	r.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	r.Handle("/ws", s.ws).Methods(http.MethodGet)

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
	r.HandleFunc("/settings/docker", s.settings("docker")).Methods(http.MethodGet)
	r.HandleFunc("/settings/vm", s.settings("vm")).Methods(http.MethodGet)

	r.HandleFunc("/collectors", s.listCollectors).Methods(http.MethodGet)
	r.HandleFunc("/collectors/status", s.listCollectors).Methods(http.MethodGet)
	r.HandleFunc("/collectors/{name}", s.getCollector).Methods(http.MethodGet)
	r.HandleFunc("/collectors/{name}/data", s.collectorData).Methods(http.MethodGet)
	r.HandleFunc("/collectors/{name}/enable", s.setEnabled(true)).Methods(http.MethodPost)
	r.HandleFunc("/collectors/{name}/disable", s.setEnabled(false)).Methods(http.MethodPost)
	r.HandleFunc("/collectors/{name}/interval", s.setInterval).Methods(http.MethodPatch)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func itoa(n int) string { return strconv.Itoa(n) }

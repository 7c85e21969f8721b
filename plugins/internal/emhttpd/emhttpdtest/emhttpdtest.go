// Package emhttpdtest runs a stand-in emhttpd for tests: an HTTP server on
// the unix socket <root>/var/run/emhttpd.socket that records every
// request line and answers as emhttpd does (200, empty body), or with a
// status the test sets. Unraid's emhttpd exists on no machine here; this
// speaks its protocol, which is what the plugins are tested against.
package emhttpdtest

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Request is one request as emhttpd received it.
type Request struct {
	Line string // "GET /update.htm?… HTTP/1.1"
	Host string
}

// Server is a running stand-in.
type Server struct {
	Path string // the socket

	mu     sync.Mutex
	reqs   []Request
	status int
}

// Start serves under root until the test ends.
func Start(t testing.TB, root string) *Server {
	t.Helper()
	s := &Server{Path: filepath.Join(root, "var/run/emhttpd.socket"), status: http.StatusOK}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", s.Path)
	if err != nil {
		t.Fatalf("stand-in emhttpd: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Line: r.Method + " " + r.RequestURI + " " + r.Proto, Host: r.Host})
		code := s.status
		s.mu.Unlock()
		w.WriteHeader(code)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done; _ = os.Remove(s.Path) })
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Lines returns the request lines received so far.
func (s *Server) Lines() []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Line)
	}
	return out
}

// SetStatus makes the following answers use code.
func (s *Server) SetStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

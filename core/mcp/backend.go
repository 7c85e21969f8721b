package mcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/client"
)

// Backend sends one REST request under /api/v1 and returns the status and
// body of the answer; err is only for "no answer at all".
type Backend interface {
	Do(ctx context.Context, method, path string, body []byte) (status int, answer []byte, err error)
}

// HandlerBackend serves requests with h in process (the agent's REST
// router).
func HandlerBackend(h http.Handler) Backend { return handlerBackend{h} }

type handlerBackend struct{ h http.Handler }

func (b handlerBackend) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var r io.Reader = http.NoBody
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://towerd"+api.Prefix+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	b.h.ServeHTTP(w, req)
	return w.status, w.body.Bytes(), nil
}

// recorder is the least http.ResponseWriter that keeps the answer.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.wrote = true
	return w.body.Write(p)
}

// ClientBackend sends requests to a running agent (towerd mcp over stdio).
func ClientBackend(c *client.Client) Backend { return clientBackend{c} }

type clientBackend struct{ c *client.Client }

func (b clientBackend) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var payload any
	if body != nil {
		payload = rawJSON(body)
	}
	raw, err := b.c.Do(ctx, method, path, payload, nil)
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Status, raw, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, raw, nil
}

// rawJSON marshals as itself.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

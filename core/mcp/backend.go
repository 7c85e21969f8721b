package mcp

import (
	"context"
	"errors"
	"net/http"

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
	return client.Serve(ctx, b.h, method, path, body)
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

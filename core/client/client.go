// Package client talks to a running towerd over its REST API: collector
// state and management, health and the system summary. The towerd CLI uses
// it; errors tell apart "the agent is unreachable" from "the agent answered
// with an error", so that scripts get distinct exit codes.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/towerd/towerd/core/api"
)

// ErrUnreachable wraps every failure to get any HTTP answer.
var ErrUnreachable = errors.New("towerd is not reachable")

// APIError is an HTTP error answer from towerd.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// Client is a towerd REST client.
type Client struct {
	base  string // scheme://host:port
	token string
	http  *http.Client
}

// New returns a client of the agent at addr ("host:port" or a URL); a
// non-empty token is sent as a bearer token.
func New(addr, token string) (*Client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("address %q: want HOST:PORT or http(s)://HOST:PORT", addr)
	}
	return &Client{base: u.Scheme + "://" + u.Host, token: token, http: &http.Client{Timeout: 15 * time.Second}}, nil
}

// Base returns the agent's base URL.
func (c *Client) Base() string { return c.base }

// Do sends a request to path under /api/v1 with an optional JSON body,
// and returns the raw body of a 200 answer. out, if not nil, receives the
// decoded body.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+api.Prefix+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%w at %s: read answer: %v", ErrUnreachable, c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return raw, &APIError{Method: method, Path: api.Prefix + path, Status: resp.StatusCode, Message: Message(raw)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
		}
	}
	return raw, nil
}

// Message is the "message" (or "error") of a REST error answer, else the
// answer itself.
func Message(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	switch {
	case e.Message != "":
		return e.Message
	case e.Error != "":
		return e.Error
	}
	return strings.TrimSpace(string(body))
}

// CollectorList is GET /collectors/status.
type CollectorList struct {
	Collectors    []api.CollectorStatus `json:"collectors"`
	Total         int                   `json:"total"`
	EnabledCount  int                   `json:"enabled_count"`
	DisabledCount int                   `json:"disabled_count"`
	Timestamp     string                `json:"timestamp"`
}

// ActionResult is the answer to an action.
type ActionResult struct {
	Success   bool   `json:"success"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

// Collectors lists every collector with its state.
func (c *Client) Collectors(ctx context.Context) (CollectorList, []byte, error) {
	var l CollectorList
	raw, err := c.Do(ctx, http.MethodGet, "/collectors/status", nil, &l)
	return l, raw, err
}

// Collector returns one collector.
func (c *Client) Collector(ctx context.Context, name string) (api.CollectorStatus, []byte, error) {
	var body struct {
		Collector api.CollectorStatus `json:"collector"`
	}
	raw, err := c.Do(ctx, http.MethodGet, "/collectors/"+url.PathEscape(name), nil, &body)
	return body.Collector, raw, err
}

// SetEnabled enables or disables a collector.
func (c *Client) SetEnabled(ctx context.Context, name string, enabled bool) (ActionResult, []byte, error) {
	verb := "/disable"
	if enabled {
		verb = "/enable"
	}
	var res ActionResult
	raw, err := c.Do(ctx, http.MethodPost, "/collectors/"+url.PathEscape(name)+verb, nil, &res)
	return res, raw, err
}

// SetInterval changes a collector's interval in seconds.
func (c *Client) SetInterval(ctx context.Context, name string, seconds int) (ActionResult, []byte, error) {
	var res ActionResult
	raw, err := c.Do(ctx, http.MethodPatch, "/collectors/"+url.PathEscape(name)+"/interval", map[string]int{"interval": seconds}, &res)
	return res, raw, err
}

// System is the part of GET /system the status command shows.
type System struct {
	Hostname        string  `json:"hostname"`
	Version         string  `json:"version"`
	AgentVersion    string  `json:"agent_version"`
	UptimeSeconds   int64   `json:"uptime_seconds"`
	CPUUsagePercent float64 `json:"cpu_usage_percent"`
	RAMUsagePercent float64 `json:"ram_usage_percent"`
}

// Health checks GET /health.
func (c *Client) Health(ctx context.Context) error {
	var h struct {
		Status string `json:"status"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/health", nil, &h); err != nil {
		return err
	}
	if h.Status != "ok" {
		return fmt.Errorf("health status %q", h.Status)
	}
	return nil
}

// System returns the system summary.
func (c *Client) System(ctx context.Context) (System, error) {
	var s System
	_, err := c.Do(ctx, http.MethodGet, "/system", nil, &s)
	return s, err
}

// Serve sends a request to path under /api/v1 to h in process (the agent's
// own REST router, for its outputs) and returns the status and body of the
// answer, whatever the status; err is only for a request that cannot be
// built.
func Serve(ctx context.Context, h http.Handler, method, path string, body []byte) (status int, answer []byte, err error) {
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
	h.ServeHTTP(w, req)
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

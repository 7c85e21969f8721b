package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/towerd/towerd/sdk"
)

// Errors a Control returns; the API maps them to status codes.
var (
	ErrUnknownCollector = errors.New("unknown collector")
	ErrCollectorDown    = errors.New("collector is disabled or not running")
	ErrNotImplemented   = errors.New("not supported by this collector")
	ErrRequired         = errors.New("collector is required and cannot be disabled")
)

// CollectorStatus is how the API shows a collector.
type CollectorStatus struct {
	Name              string    `json:"name"`
	Enabled           bool      `json:"enabled"`
	IntervalSeconds   int       `json:"interval_seconds"`
	Status            string    `json:"status"`
	Required          bool      `json:"required"`
	Builtin           bool      `json:"builtin"`
	Installed         bool      `json:"installed"`
	Topic             string    `json:"topic"`
	Version           string    `json:"version"`
	Description       string    `json:"description,omitempty"`
	Actions           []string  `json:"actions"`
	PID               int       `json:"pid"`
	Restarts          int       `json:"restarts"`
	ErrorCount        int       `json:"error_count"`
	LastError         string    `json:"last_error"`
	LastCollectMillis float64   `json:"last_collect_ms"`
	LastSuccess       time.Time `json:"last_success"`
}

// Control is what the API needs from the agent to manage collectors.
type Control interface {
	Collectors() []CollectorStatus
	Collector(name string) (CollectorStatus, error)
	SetEnabled(name string, enabled bool) error
	SetInterval(name string, interval time.Duration) error
	Act(ctx context.Context, collector string, a sdk.Action) (string, error)
}

type statusList struct {
	Collectors    []CollectorStatus `json:"collectors"`
	Total         int               `json:"total"`
	EnabledCount  int               `json:"enabled_count"`
	DisabledCount int               `json:"disabled_count"`
	Timestamp     string            `json:"timestamp"`
}

func (s *Server) listCollectors(w http.ResponseWriter, _ *http.Request) {
	list := s.control.Collectors()
	out := statusList{Collectors: list, Total: len(list), Timestamp: time.Now().Format(time.RFC3339)}
	for _, c := range list {
		if c.Enabled {
			out.EnabledCount++
		} else {
			out.DisabledCount++
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getCollector(w http.ResponseWriter, r *http.Request) {
	c, err := s.control.Collector(pathVar(r, "name"))
	if err != nil {
		writeError(w, collectorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "collector": c})
}

// collectorData serves any collector's latest payload, third-party ones
// included, by collector name.
func (s *Server) collectorData(w http.ResponseWriter, r *http.Request) {
	c, err := s.control.Collector(pathVar(r, "name"))
	if err != nil {
		writeError(w, collectorStatus(err), err.Error())
		return
	}
	ev, ok := s.bus.Latest(c.Topic)
	if !ok {
		writeError(w, http.StatusNotFound, "collector "+quoteForMessage(c.Name)+" has not produced data yet")
		return
	}
	writeRaw(w, http.StatusOK, ev.Data)
}

func (s *Server) setEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := pathVar(r, "name")
		if err := s.control.SetEnabled(name, enabled); err != nil {
			writeError(w, collectorStatus(err), err.Error())
			return
		}
		verb := "disabled"
		if enabled {
			verb = "enabled"
		}
		writeAction(w, "collector "+name+" "+verb)
	}
}

func (s *Server) setInterval(w http.ResponseWriter, r *http.Request) {
	name := pathVar(r, "name")
	var body struct {
		Interval *int `json:"interval"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyLength+1))
	if err != nil || len(raw) > maxBodyLength {
		writeError(w, http.StatusBadRequest, "request body missing or too large")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Interval == nil {
		writeError(w, http.StatusBadRequest, `body must be {"interval": seconds} with seconds from 5 to 86400`)
		return
	}
	if *body.Interval < 5 || *body.Interval > 86400 {
		writeError(w, http.StatusBadRequest, "interval must be from 5 to 86400 seconds")
		return
	}
	if err := s.control.SetInterval(name, time.Duration(*body.Interval)*time.Second); err != nil {
		writeError(w, collectorStatus(err), err.Error())
		return
	}
	writeAction(w, "collector "+name+" interval set to "+strconv.Itoa(*body.Interval)+"s")
}

func collectorStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownCollector):
		return http.StatusNotFound
	case errors.Is(err, ErrRequired):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/towerd/towerd/core/config"
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
		writeCollectorError(w, pathVar(r, "name"), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "collector": c})
}

// collectorData serves any collector's latest payload, third-party ones
// included, by collector name.
func (s *Server) collectorData(w http.ResponseWriter, r *http.Request) {
	c, err := s.control.Collector(pathVar(r, "name"))
	if err != nil {
		writeCollectorError(w, pathVar(r, "name"), err)
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
			writeCollectorError(w, name, err)
			return
		}
		verb := "disabled"
		if enabled {
			verb = "enabled"
		}
		writeAction(w, "collector "+name+" "+verb)
	}
}

// setInterval serves PATCH /collectors/{name}/interval. The body is
// exactly {"interval": seconds}: no other key (the key's case included),
// nothing after the object, a whole number within the bounds the settings
// file is held to (core/config).
func (s *Server) setInterval(w http.ResponseWriter, r *http.Request) {
	name := pathVar(r, "name")
	usage := fmt.Sprintf(`body must be {"interval": seconds} with seconds from %d to %d`, config.MinIntervalSeconds, config.MaxIntervalSeconds)
	raw, code, err := readBody(r)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		writeError(w, http.StatusBadRequest, usage)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "unexpected data after the JSON object; "+usage)
		return
	}
	for k := range fields {
		if k != "interval" {
			writeError(w, http.StatusBadRequest, "unknown key "+quoteForMessage(k)+"; "+usage)
			return
		}
	}
	var secs int64
	if err := json.Unmarshal(fields["interval"], &secs); err != nil || fields["interval"] == nil {
		writeError(w, http.StatusBadRequest, usage)
		return
	}
	if err := config.CheckInterval(secs); err != nil {
		writeError(w, http.StatusBadRequest, "interval "+err.Error())
		return
	}
	if err := s.control.SetInterval(name, time.Duration(secs)*time.Second); err != nil {
		writeCollectorError(w, name, err)
		return
	}
	writeAction(w, "collector "+name+" interval set to "+strconv.FormatInt(secs, 10)+"s")
}

// writeCollectorError answers a Control error about collector name. An
// unknown name is the caller's input: it is echoed bounded, whatever the
// error text holds.
func writeCollectorError(w http.ResponseWriter, name string, err error) {
	if errors.Is(err, ErrUnknownCollector) {
		writeError(w, http.StatusNotFound, "unknown collector "+quoteForMessage(name))
		return
	}
	writeError(w, collectorStatus(err), err.Error())
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

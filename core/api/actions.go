package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/sdk"
)

const (
	maxIDLength   = 253
	maxBodyLength = 64 << 10
)

// target validates the {id} or {name} of an action route.
type target struct {
	collector string
	actions   []string
	valid     func(string) bool
	what      string
}

var (
	containerID   = regexp.MustCompile(`^([0-9a-f]{12}|[0-9a-f]{64})$`)
	containerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	vmName        = regexp.MustCompile(`^[A-Za-z0-9_ ]([A-Za-z0-9_ .-]{0,251}[A-Za-z0-9_ ])?$`)
	diskID        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`) // pool names may hold "_"
)

var (
	dockerTarget = target{collector: "docker", what: "container id (12 or 64 lower-case hex) or name",
		actions: catalog.ActionsOf("docker"),
		valid:   func(s string) bool { return containerID.MatchString(s) || containerName.MatchString(s) }}
	vmTarget = target{collector: "vm", what: "VM name (letters, digits, space, _ . -; 1-253 characters, not only spaces) or UUID",
		actions: catalog.ActionsOf("vm"),
		valid:   func(s string) bool { return vmName.MatchString(s) && strings.TrimSpace(s) != "" }}
	diskTarget = target{collector: "disk", what: "disk id (e.g. disk1, parity, cache)",
		actions: catalog.ActionsOf("disk"), valid: diskID.MatchString}
	parityTarget = target{collector: "array",
		actions: parityActions(), valid: func(s string) bool { return s == "" }}
)

// parityPrefix joins /array/parity-check/{action} to the array plugin's
// action names.
const parityPrefix = "parity-check-"

// parityActions are the array's parity-check-* actions without the prefix,
// as the route spells them.
func parityActions() []string {
	var out []string
	for _, a := range catalog.ActionsOf("array") {
		if rest, ok := strings.CutPrefix(a, parityPrefix); ok {
			out = append(out, rest)
		}
	}
	return out
}

// act validates and forwards POST /{collector}/{id}/{action}.
func (s *Server) act(t target) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, action := pathVar(r, "id"), pathVar(r, "action")
		if !slices.Contains(t.actions, action) {
			writeError(w, http.StatusBadRequest, "unknown action "+quoteForMessage(action)+"; valid actions: "+joinQuoted(t.actions))
			return
		}
		if !t.valid(id) {
			writeError(w, http.StatusBadRequest, "invalid "+t.what+": "+quoteForMessage(id))
			return
		}
		params, raw, code, err := actionParams(r)
		if err != nil {
			writeError(w, code, err.Error())
			return
		}
		// The JSON boolean true, not "true" or 1: a reset loses the VM's
		// state, so only the documented confirmation counts.
		if confirm, _ := raw["confirm"].(bool); t.collector == "vm" && action == "reset" && !confirm {
			writeError(w, http.StatusBadRequest, `reset needs the body {"confirm":true}`)
			return
		}
		if confirm, _ := raw["confirm"].(bool); t.collector == "docker" && action == "remove" && !confirm {
			writeError(w, http.StatusBadRequest, `confirm must be set to true to remove a container: {"confirm":true}`)
			return
		}
		if q := r.URL.Query(); t.collector == "array" && q.Has("correcting") {
			v := q.Get("correcting")
			if v != "true" && v != "false" || len(q["correcting"]) > 1 {
				writeError(w, http.StatusBadRequest, "correcting must be true or false, not "+quoteForMessage(v))
				return
			}
			if action == "start" {
				params["correcting"] = v
			}
		}
		if t.collector == "array" {
			action = parityPrefix + action
		}
		s.forward(w, r, t.collector, sdk.Action{Name: action, Target: id, Params: params}, nil)
	}
}

// forward calls the collector's action and answers with its message
// (reshaped by reshape, if set) or the error's status.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, collector string, a sdk.Action, reshape func(string) any) {
	msg, err := s.control.Act(r.Context(), collector, a)
	switch {
	case err != nil:
		writeError(w, actionStatus(err), err.Error())
	case reshape != nil:
		writeJSON(w, http.StatusOK, reshape(msg))
	default:
		writeAction(w, msg)
	}
}

// actionParams reads an optional JSON object body into string params;
// raw keeps the decoded values for checks that need the JSON type. On
// error, code is the status to answer with.
func actionParams(r *http.Request) (params map[string]string, raw map[string]any, code int, err error) {
	params = map[string]string{}
	body, code, err := readBody(r)
	if err != nil {
		return nil, nil, code, err
	}
	if len(body) == 0 {
		return params, nil, 0, nil
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		msg := "request body is not a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, nil, http.StatusBadRequest, errors.New(msg)
	}
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			params[k] = x
		case bool:
			params[k] = strconv.FormatBool(x)
		case float64:
			params[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, nil, http.StatusBadRequest, errors.New("body field " + quoteForMessage(k) + " must be a string, number or boolean")
		}
	}
	return params, raw, 0, nil
}

// readBody reads a request body up to maxBodyLength; a longer one, with a
// Content-Length or chunked, is 413.
func readBody(r *http.Request) ([]byte, int, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyLength+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || err == nil && len(body) > maxBodyLength:
		return nil, http.StatusRequestEntityTooLarge, errors.New("request body exceeds the limit of " + strconv.Itoa(maxBodyLength) + " bytes")
	case err != nil:
		return nil, http.StatusBadRequest, errors.New("cannot read request body")
	}
	return body, 0, nil
}

// actionStatus maps an error from a plugin or the controller to HTTP.
func actionStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownCollector), errors.Is(err, sdk.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, sdk.ErrInvalidArgument), errors.Is(err, sdk.ErrUnsupported):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotImplemented):
		return http.StatusNotImplemented
	case errors.Is(err, sdk.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrCollectorDown), errors.Is(err, sdk.ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func joinQuoted(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

// collectorAction serves POST /collectors/{name}/actions/{action}: any
// plugin's declared action, third-party ones included. The target and
// params come from an optional JSON body {"target": "...", ...}; the
// plugin validates them, the core only bounds them.
func (s *Server) collectorAction(w http.ResponseWriter, r *http.Request) {
	name, action := pathVar(r, "name"), pathVar(r, "action")
	if !genericWord.MatchString(action) {
		writeError(w, http.StatusBadRequest, "invalid action name "+quoteForMessage(action))
		return
	}
	params, _, code, err := actionParams(r)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	target := params["target"]
	delete(params, "target")
	if len(target) > maxIDLength || strings.ContainsFunc(target, unicode.IsControl) {
		writeError(w, http.StatusBadRequest, "invalid target "+quoteForMessage(target))
		return
	}
	msg, err := s.control.Act(r.Context(), name, sdk.Action{Name: action, Target: target, Params: params})
	if errors.Is(err, ErrUnknownCollector) {
		writeError(w, http.StatusNotFound, "unknown collector "+quoteForMessage(name))
		return
	}
	if err != nil {
		writeError(w, actionStatus(err), err.Error())
		return
	}
	writeAction(w, msg)
}

var genericWord = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

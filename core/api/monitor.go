package api

import (
	"encoding/json"
	"net/http"
	"os"
	"unicode/utf8"

	"github.com/towerd/towerd/core/catalog"
)

// endpoint maps a monitoring path to the topic whose payload it serves.
type endpoint struct {
	path      string
	topic     string
	collector string
	// fallback is served before the first collect or while disabled.
	fallback func() []byte
	// itemKeys, for list endpoints with /{id}: fields an id may match.
	itemKeys []string
}

func emptyList() []byte { return []byte("[]") }

func constant(s string) func() []byte { return func() []byte { return []byte(s) } }

func systemFallback() []byte {
	host, _ := os.Hostname()
	b, _ := json.Marshal(map[string]any{"hostname": host, "cpu_usage_percent": 0, "fans": []any{}})
	return b
}

// fallbacks are what each built-in topic serves before its first collect.
var fallbacks = map[string]func() []byte{
	"system": systemFallback, "array": constant(`{"state":"unknown"}`), "ups": constant(`{"connected":false}`),
	"disk": emptyList, "shares": emptyList, "docker": emptyList, "vm": emptyList, "gpu": emptyList, "network": emptyList,
}

// endpoints are the built-in monitoring paths, from the catalog.
var endpoints = func() []endpoint {
	var out []endpoint
	for _, e := range catalog.Builtins {
		fb := fallbacks[e.Name]
		if fb == nil {
			panic("api: no fallback payload for built-in collector " + e.Name)
		}
		out = append(out, endpoint{path: e.Path, topic: e.Topic, collector: e.Name, fallback: fb, itemKeys: e.ItemKeys})
	}
	return out
}()

// latest returns the cached payload of topic, or the fallback.
func (s *Server) latest(e endpoint) []byte {
	if ev, ok := s.bus.Latest(e.topic); ok {
		return ev.Data
	}
	return e.fallback()
}

func (s *Server) serveTopic(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeRaw(w, http.StatusOK, s.latest(e))
	}
}

// serveItem finds one item of a list payload by any of the endpoint's keys.
func (s *Server) serveItem(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := pathVar(r, "id")
		if len(id) > maxIDLength {
			writeError(w, http.StatusBadRequest, "id is too long")
			return
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(s.latest(e), &items); err != nil {
			writeError(w, http.StatusInternalServerError, "cached payload is not a list")
			return
		}
		for _, item := range items {
			for _, k := range e.itemKeys {
				var v string
				if json.Unmarshal(item[k], &v) == nil && v != "" && v == id {
					writeJSON(w, http.StatusOK, item)
					return
				}
			}
		}
		writeError(w, http.StatusNotFound, e.path[1:]+": no item with id, or name, "+quoteForMessage(id))
	}
}

// maxEcho bounds how much of the caller's input an error message repeats.
const maxEcho = 64

// quoteForMessage quotes user input for an error message, cut at maxEcho
// bytes (on a character boundary).
func quoteForMessage(s string) string {
	if len(s) > maxEcho {
		cut := maxEcho
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

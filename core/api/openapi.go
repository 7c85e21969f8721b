package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/schema"
)

// The OpenAPI 3 description of the REST API, served at
// /api/v1/openapi.json. It is built from the operations table below and the
// Go types of the payloads; a test walks the router so that the table and
// the real routes cannot drift apart.

// operation is one method on one path, relative to Prefix.
type operation struct {
	method, path, tag, summary string
	// response is a component schema name, "" for the action response,
	// "-" for any object, or "none" for a path that only answers errors.
	response string
	// body is the request body's component schema name, if any.
	body  string
	query []queryParam
	// enums for path parameters, e.g. the allowed actions.
	enums map[string][]string
	// errors are the documented error statuses besides 401.
	errors []int
}

type queryParam struct{ name, typ, desc string }

func operations() []operation {
	ops := []operation{
		{method: "GET", path: "/health", tag: "monitoring", summary: "Liveness; always open, even with a token set.", response: "Health"},
		{method: "HEAD", path: "/health", tag: "monitoring", summary: "Liveness without a body, for uptime checkers; always open."},
		{method: "GET", path: "/ws", tag: "monitoring", summary: "WebSocket upgrade: events {event, timestamp, data, topic}; send {\"subscribe\":[topics]} to filter.", response: "-"},
		{method: "GET", path: "/openapi.json", tag: "meta", summary: "This document.", response: "-"},
		{method: "GET", path: "/settings/docker", tag: "monitoring", summary: "Unraid's Docker service setting (boot/config/docker.cfg DOCKER_ENABLED; off without the file).", response: "DockerSettings"},
		{method: "GET", path: "/settings/vm", tag: "monitoring", summary: "Unraid's VM service setting (boot/config/domain.cfg SERVICE; off without the file).", response: "VMSettings"},
		{method: "GET", path: "/docker/port-conflicts", tag: "monitoring", summary: "Host ports published by two or more running containers, from the cached container list.", response: "[]PortConflict"},
		{method: "GET", path: "/docker/updates", tag: "monitoring", summary: "Not available: towerd does not check container images for updates (that needs a registry); always 404.", response: "none", errors: []int{404}},
		{method: "POST", path: "/array/start", tag: "actions", summary: "Start the array through emhttpd (needs mdState STOPPED).", errors: []int{400, 409, 500, 503}},
		{method: "POST", path: "/array/stop", tag: "actions", summary: "Stop the array through emhttpd (needs mdState STARTED).", errors: []int{400, 409, 500, 503}},
		{method: "POST", path: "/array/clear-disk-stats", tag: "actions", summary: "Clear the array disks' read/write/error counters through emhttpd; optional {\"confirm\":true}.",
			body: "ActionRequest", errors: []int{400, 500, 503}},
		{method: "POST", path: "/system/reboot", tag: "actions", summary: "Reboot through Unraid's /sbin/reboot; 403 unless \"power_actions\": true in the settings file.", errors: []int{403, 500, 503}},
		{method: "POST", path: "/system/shutdown", tag: "actions", summary: "Power off through Unraid's /sbin/poweroff; 403 unless \"power_actions\": true in the settings file.", errors: []int{403, 500, 503}},

		{method: "GET", path: "/collectors", tag: "collectors", summary: "Every collector with its state (same as /collectors/status).", response: "CollectorList"},
		{method: "GET", path: "/collectors/status", tag: "collectors", summary: "Every collector with its state.", response: "CollectorList"},
		{method: "GET", path: "/collectors/{name}", tag: "collectors", summary: "One collector.", response: "CollectorResponse", errors: []int{404}},
		{method: "GET", path: "/collectors/{name}/data", tag: "collectors", summary: "The collector's latest payload (third-party collectors too).", response: "Any", errors: []int{404}},
		{method: "POST", path: "/collectors/{name}/enable", tag: "collectors", summary: "Enable and start; persisted.", errors: []int{404, 500}},
		{method: "POST", path: "/collectors/{name}/disable", tag: "collectors", summary: "Disable and stop; persisted. system cannot be disabled.", errors: []int{400, 404, 500}},
		{method: "POST", path: "/collectors/{name}/actions/{action}", tag: "actions",
			summary: "Any action the collector declares (third-party plugins too); body {\"target\": \"...\", other params}.",
			body:    "GenericActionRequest", errors: []int{400, 404, 409, 501, 503}},
		{method: "PATCH", path: "/collectors/{name}/interval", tag: "collectors", summary: "Change the interval at run time; persisted.", body: "IntervalRequest", errors: []int{400, 404, 500}},

		{method: "POST", path: "/docker/{id}/{action}", tag: "actions", summary: "Container action; {id} is the container id (12 or 64 hex) or name. autostart takes {\"enabled\":bool}; remove needs {\"confirm\":true}, optional \"remove_image\".",
			body: "ActionRequest", enums: map[string][]string{"action": dockerTarget.actions}, errors: []int{400, 404, 409, 501, 503}},
		{method: "POST", path: "/vm/{id}/{action}", tag: "actions", summary: "VM action; {id} is the VM name (URL-encoded) or UUID. reset needs {\"confirm\":true}.",
			body: "ActionRequest", enums: map[string][]string{"action": vmTarget.actions}, errors: []int{400, 404, 409, 501, 503}},
		{method: "POST", path: "/disks/{id}/{action}", tag: "actions", summary: "Spin a disk up or down through emhttpd; {id} is the slot name (disk1, parity, cache) or device.",
			enums: map[string][]string{"action": diskTarget.actions}, errors: []int{400, 404, 409, 500, 501, 503}},
		{method: "POST", path: "/array/parity-check/{action}", tag: "actions", summary: "Parity check control (Unraid only).",
			enums: map[string][]string{"action": parityTarget.actions},
			query: []queryParam{{"correcting", "boolean", "start only: write corrections"}}, errors: []int{400, 501, 503}},
	}
	for _, e := range endpoints {
		comp := componentOf(e.topic)
		list := e.itemKeys != nil || e.fallback != nil && string(e.fallback()) == "[]"
		resp := comp
		if list {
			resp = "[]" + comp
		}
		ops = append(ops, operation{method: "GET", path: e.path, tag: "monitoring",
			summary: "Latest " + e.topic + " payload from the cache (defaults before the first collect).", response: resp})
		if e.itemKeys != nil {
			ops = append(ops, operation{method: "GET", path: e.path + "/{id}", tag: "monitoring",
				summary: "One item; {id} matches " + strings.Join(e.itemKeys, ", ") + ".", response: comp, errors: []int{400, 404}})
		}
	}
	return append(ops, bundleOperations()...)
}

// payloadTypes are the component schemas generated from Go types.
var payloadTypes = map[string]any{
	"System": schema.System{}, "Array": schema.Array{}, "Disk": schema.Disk{}, "Container": schema.Container{},
	"VM": schema.VM{}, "UPS": schema.UPS{}, "GPU": schema.GPU{}, "NetworkInterface": schema.NetworkInterface{},
	"Share": schema.Share{}, "Fan": schema.Fan{}, "Temperature": schema.Temperature{}, "Port": schema.Port{},
	"Collector": CollectorStatus{}, "CollectorList": statusList{}, "Error": errorBody{}, "ActionResponse": actionBody{},
	"DockerSettings": DockerSettings{}, "VMSettings": VMSettings{}, "PortConflict": PortConflict{},
	"CPUPowerState": schema.CPUPowerState{},
}

func componentOf(topic string) string {
	return map[string]string{
		schema.TopicSystem: "System", schema.TopicArray: "Array", schema.TopicDisks: "Disk",
		schema.TopicContainers: "Container", schema.TopicVMs: "VM", schema.TopicUPS: "UPS",
		schema.TopicGPU: "GPU", schema.TopicNetwork: "NetworkInterface", schema.TopicShares: "Share",
	}[topic]
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// OpenAPI returns the document as JSON.
func OpenAPI() []byte {
	openAPIOnce.Do(func() {
		b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic("openapi: " + err.Error()) // static input: a programming error
		}
		openAPIDoc = b
	})
	return openAPIDoc
}

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, OpenAPI())
}

type obj = map[string]any

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func buildOpenAPI() obj {
	paths := obj{}
	for _, op := range operations() {
		item, _ := paths[op.path].(obj)
		if item == nil {
			item = obj{}
			paths[op.path] = item
		}
		o := obj{"summary": op.summary, "tags": []string{op.tag},
			"operationId": strings.ToLower(op.method) + opName(op.path)}
		var params []obj
		for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
			sch := obj{"type": "string"}
			if e := op.enums[m[1]]; e != nil {
				sch["enum"] = e
			}
			params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": sch})
		}
		for _, q := range op.query {
			params = append(params, obj{"name": q.name, "in": "query", "description": q.desc, "schema": obj{"type": q.typ}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.body != "" {
			o["requestBody"] = obj{"required": op.body == "IntervalRequest",
				"content": obj{"application/json": obj{"schema": ref(op.body)}}}
		}
		resps := obj{}
		switch {
		case op.method == "HEAD":
			resps["200"] = obj{"description": "OK (headers only)."}
		case op.path == "/ws":
			resps["101"] = obj{"description": "Switching protocols to WebSocket."}
		case op.response == "none": // never succeeds; only its errors
		case op.response == "-":
			resps["200"] = obj{"description": "OK", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}}
		case op.response == "":
			resps["200"] = jsonResponse("Done.", ref("ActionResponse"))
		default:
			resps["200"] = jsonResponse("OK", schemaRef(op.response))
		}
		for _, code := range op.errors {
			resps[strconv.Itoa(code)] = jsonResponse(http.StatusText(code), ref("Error"))
		}
		// The guard's answers to browser-borne requests (core/httpguard).
		if op.method == "POST" || op.method == "PATCH" {
			resps["403"] = jsonResponse("The request's Origin is another site, not a --cors-origin.", ref("Error"))
			resps["415"] = jsonResponse("The body is not JSON (Content-Type: application/json).", ref("Error"))
		}
		resps["421"] = jsonResponse("No token is set and the Host is not a name of this server (--allowed-host).", ref("Error"))
		if op.path != "/health" {
			resps["401"] = jsonResponse("A token is configured and the request lacks it.", ref("Unauthorized"))
			o["security"] = []obj{{"bearer": []string{}}}
		}
		o["responses"] = resps
		item[strings.ToLower(op.method)] = o
	}

	comps := obj{}
	for name, v := range payloadTypes {
		comps[name] = typeSchema(reflect.TypeOf(v), true)
	}
	comps["Health"] = obj{"type": "object", "required": []string{"status"}, "properties": obj{"status": obj{"type": "string", "enum": []string{"ok"}}}}
	comps["CollectorResponse"] = obj{"type": "object", "properties": obj{"success": obj{"type": "boolean"}, "collector": ref("Collector")}}
	comps["IntervalRequest"] = obj{"type": "object", "required": []string{"interval"},
		"properties": obj{"interval": obj{"type": "integer", "minimum": config.MinIntervalSeconds, "maximum": config.MaxIntervalSeconds}}, "additionalProperties": false}
	comps["ActionRequest"] = obj{"type": "object", "description": "Optional action parameters (strings, numbers or booleans).",
		"properties": obj{"confirm": obj{"type": "boolean"}, "enabled": obj{"type": "boolean"}, "remove_image": obj{"type": "boolean"}}}
	comps["GenericActionRequest"] = obj{"type": "object", "description": "target plus action parameters (strings, numbers or booleans).",
		"properties": obj{"target": obj{"type": "string", "maxLength": 253}}}
	comps["Unauthorized"] = obj{"type": "object", "properties": obj{"error": obj{"type": "string"}}}
	comps["Any"] = obj{"description": "Any JSON value: the collector's payload."}

	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "towerd REST API", "version": sdk.Version,
			"description": "Monitoring and control agent for Unraid servers; compatible with the Unraid Management Agent's clients. " +
				"Monitoring GETs return the bare payload, the same JSON as the WebSocket event's data. " +
				"Outside this base path: /metrics (Prometheus) and, unless turned off, /mcp (Model Context Protocol, streamable HTTP, JSON-RPC; same token)."},
		"servers":    []obj{{"url": Prefix}},
		"paths":      paths,
		"components": obj{"schemas": comps, "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}}},
	}
}

func opName(path string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '-' || r == '.' }) {
		if strings.HasPrefix(part, "{") {
			part = "By" + strings.Trim(part, "{}")
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// schemaRef reads "[]Name" as an array of Name.
func schemaRef(name string) obj {
	if strings.HasPrefix(name, "[]") {
		return obj{"type": "array", "items": ref(name[2:])}
	}
	return ref(name)
}

func jsonResponse(desc string, sch obj) obj {
	return obj{"description": desc, "content": obj{"application/json": obj{"schema": sch}}}
}

var (
	timeType = reflect.TypeOf(time.Time{})
	apiPkg   = reflect.TypeOf(errorBody{}).PkgPath()
)

// typeSchema turns a Go type into a JSON schema; named structs listed in
// payloadTypes become references unless top is set.
func typeSchema(t reflect.Type, top bool) obj {
	if t == timeType {
		return obj{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), top)
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return obj{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		return obj{"type": "array", "items": typeSchema(t.Elem(), false)}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": typeSchema(t.Elem(), false)}
	case reflect.Struct:
		if !top {
			for name, v := range payloadTypes {
				if reflect.TypeOf(v) == t {
					return ref(name)
				}
			}
		}
		props, required := obj{}, []string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = typeSchema(f.Type, false)
			// Payloads may lack fields before the first collect; the
			// API's own bodies are always complete.
			if t.PkgPath() == apiPkg && !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		out := obj{"type": "object", "properties": props}
		if len(required) > 0 {
			sort.Strings(required)
			out["required"] = required
		}
		return out
	}
	return obj{}
}

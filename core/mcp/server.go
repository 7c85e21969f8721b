package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/towerd/towerd/core/client"
)

// Path is where the agent serves MCP over streamable HTTP.
const Path = "/mcp"

// Options configure a Server.
type Options struct {
	// ReadOnly hides and refuses the action tools.
	ReadOnly bool
	// Version is towerd's version, reported to clients.
	Version string
	Logger  hclog.Logger
}

// Server is towerd's MCP server.
type Server struct {
	srv     *sdkmcp.Server
	backend Backend
	opts    Options
	log     hclog.Logger

	mu        sync.Mutex
	tools     map[string]string // registered tool name -> signature
	resources map[string]string // registered resource URI -> signature
	actions   map[string]bool   // action tool names, registered or not (read-only)
	synced    time.Time
}

// minSync spaces out collector-list reads when a client sends a burst of
// requests; a new plugin shows up within this time.
const minSync = time.Second

// New builds the server; tools appear on the first request.
func New(b Backend, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	s := &Server{backend: b, opts: opts, log: opts.Logger,
		tools: map[string]string{}, resources: map[string]string{}, actions: map[string]bool{}}
	mode := "Actions are turned off (read-only); only reads are offered."
	if !opts.ReadOnly {
		mode = "Action tools change the server (start/stop containers and VMs, parity checks, disk spin): ask before using them."
	}
	s.srv = sdkmcp.NewServer(&sdkmcp.Implementation{Name: "towerd", Title: "towerd (Unraid agent)", Version: opts.Version},
		&sdkmcp.ServerOptions{
			Instructions: "towerd monitors an Unraid server. list_collectors shows what is collected; " +
				"get_<collector> returns the latest data of one collector (system, array, disk, docker, vm, ups, gpu, network, shares and any third-party plugin). " + mode,
			HasTools:     true,
			HasResources: true,
		})
	s.srv.AddReceivingMiddleware(s.middleware)
	s.srv.AddTool(&sdkmcp.Tool{
		Name:        "list_collectors",
		Title:       "List collectors",
		Description: "Every collector: name, enabled, status (running, disabled, failed, not_installed…), interval, topic, declared actions, restarts, last error.",
		InputSchema: objectSchema(nil, nil),
		Annotations: &sdkmcp.ToolAnnotations{ReadOnlyHint: true},
	}, s.listCollectors)
	s.tools["list_collectors"] = "static"
	return s
}

// HTTPHandler serves MCP over streamable HTTP. It is stateless (every POST
// stands alone), so an abandoned client leaves nothing behind.
func (s *Server) HTTPHandler() http.Handler {
	return sdkmcp.NewStreamableHTTPHandler(func(*http.Request) *sdkmcp.Server { return s.srv },
		&sdkmcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
}

// RunIO serves one client over newline-delimited JSON on in and out
// (stdin and stdout for `towerd mcp`) until it disconnects or ctx ends.
func (s *Server) RunIO(ctx context.Context, in io.Reader, out io.Writer) error {
	return s.srv.Run(ctx, &sdkmcp.IOTransport{Reader: io.NopCloser(in), Writer: nopWriteCloser{out}})
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// SDK returns the SDK server (for tests over in-memory transports).
func (s *Server) SDK() *sdkmcp.Server { return s.srv }

// middleware brings the tool set up to date and enforces read-only before
// the SDK handles a request.
func (s *Server) middleware(next sdkmcp.MethodHandler) sdkmcp.MethodHandler {
	return func(ctx context.Context, method string, req sdkmcp.Request) (sdkmcp.Result, error) {
		switch method {
		case "tools/list", "tools/call", "resources/list", "resources/read":
			if err := s.sync(ctx); err != nil {
				s.log.Warn("MCP: cannot read the collector list", "error", err)
			}
		}
		if method == "tools/call" && s.opts.ReadOnly {
			if p, ok := req.GetParams().(*sdkmcp.CallToolParamsRaw); ok {
				s.mu.Lock()
				action := s.actions[p.Name]
				s.mu.Unlock()
				if action {
					return errorResult(fmt.Sprintf("refused: %s is an action and this MCP server is read-only (set \"mcp\": {\"read_only\": false} in towerd's settings or pass --mcp-read-only=false)", p.Name)), nil
				}
			}
		}
		return next(ctx, method, req)
	}
}

// collector is the part of the REST collector status used here.
type collector struct {
	Name        string   `json:"name"`
	Enabled     bool     `json:"enabled"`
	Installed   bool     `json:"installed"`
	Status      string   `json:"status"`
	Topic       string   `json:"topic"`
	Description string   `json:"description"`
	Actions     []string `json:"actions"`
}

func (s *Server) collectors(ctx context.Context) ([]collector, error) {
	code, body, err := s.backend.Do(ctx, http.MethodGet, "/collectors/status", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /collectors/status: HTTP %d: %s", code, client.Message(body))
	}
	var list struct {
		Collectors []collector `json:"collectors"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("GET /collectors/status: %w", err)
	}
	return list.Collectors, nil
}

// sync registers the tools and resources the collector list calls for and
// removes those it no longer does.
func (s *Server) sync(ctx context.Context) error {
	s.mu.Lock()
	fresh := time.Since(s.synced) < minSync
	s.mu.Unlock()
	if fresh {
		return nil
	}
	list, err := s.collectors(ctx)
	if err != nil {
		return err
	}
	type toolDef struct {
		tool *sdkmcp.Tool
		h    sdkmcp.ToolHandler
	}
	tools := map[string]toolDef{}
	actions := map[string]bool{}
	type resDef struct {
		res *sdkmcp.Resource
		h   sdkmcp.ResourceHandler
	}
	resources := map[string]resDef{}
	for _, c := range list {
		if !c.Installed || !safeName.MatchString(c.Name) {
			continue
		}
		desc := c.Description
		if desc == "" {
			desc = "collector " + c.Name
		}
		read := "get_" + toolName(c.Name)
		tools[read] = toolDef{&sdkmcp.Tool{
			Name:        read,
			Title:       "Latest " + c.Name + " data",
			Description: fmt.Sprintf("Latest payload of the %s collector (%s), topic %s, as JSON; an error while the collector is disabled or has not collected yet.", c.Name, desc, c.Topic),
			InputSchema: objectSchema(nil, nil),
			Annotations: &sdkmcp.ToolAnnotations{ReadOnlyHint: true},
		}, s.readTool(c.Name)}
		if c.Topic != "" && safeName.MatchString(c.Topic) {
			uri := "towerd://topics/" + c.Topic
			resources[uri] = resDef{&sdkmcp.Resource{
				URI: uri, Name: c.Topic, MIMEType: "application/json",
				Description: "Latest " + c.Topic + " payload (collector " + c.Name + ")",
			}, s.readResource(c.Name)}
		}
	}
	// Actions after every read tool, so that a name clash (collector "get"
	// with action "x" against get_x) leaves the read tool in place.
	for _, c := range list {
		if !c.Installed || !safeName.MatchString(c.Name) {
			continue
		}
		for _, a := range c.Actions {
			if !safeName.MatchString(a) {
				continue
			}
			t, h := s.actionTool(c.Name, a)
			if _, taken := tools[t.Name]; taken || t.Name == "list_collectors" {
				continue
			}
			actions[t.Name] = true
			if !s.opts.ReadOnly {
				tools[t.Name] = toolDef{t, h}
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions = actions
	var gone []string
	for name := range s.tools {
		if _, ok := tools[name]; !ok && name != "list_collectors" {
			gone = append(gone, name)
			delete(s.tools, name)
		}
	}
	if len(gone) > 0 {
		s.srv.RemoveTools(gone...)
	}
	for name, d := range tools {
		sig := d.tool.Description + "\x00" + fmt.Sprint(d.tool.InputSchema)
		if s.tools[name] != sig {
			s.srv.AddTool(d.tool, d.h)
			s.tools[name] = sig
		}
	}
	var goneRes []string
	for uri := range s.resources {
		if _, ok := resources[uri]; !ok {
			goneRes = append(goneRes, uri)
			delete(s.resources, uri)
		}
	}
	if len(goneRes) > 0 {
		s.srv.RemoveResources(goneRes...)
	}
	for uri, d := range resources {
		if s.resources[uri] != d.res.Description {
			s.srv.AddResource(d.res, d.h)
			s.resources[uri] = d.res.Description
		}
	}
	s.synced = time.Now()
	return nil
}

// safeName is what a collector, topic or action name must look like to
// become part of a tool name or URI.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$`)

// toolName keeps the characters MCP allows in tool names.
func toolName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

func (s *Server) listCollectors(ctx context.Context, _ *sdkmcp.CallToolRequest) (*sdkmcp.CallToolResult, error) {
	return s.get(ctx, "/collectors/status")
}

func (s *Server) readTool(name string) sdkmcp.ToolHandler {
	return func(ctx context.Context, _ *sdkmcp.CallToolRequest) (*sdkmcp.CallToolResult, error) {
		return s.get(ctx, "/collectors/"+url.PathEscape(name)+"/data")
	}
}

func (s *Server) readResource(name string) sdkmcp.ResourceHandler {
	return func(ctx context.Context, req *sdkmcp.ReadResourceRequest) (*sdkmcp.ReadResourceResult, error) {
		code, body, err := s.backend.Do(ctx, http.MethodGet, "/collectors/"+url.PathEscape(name)+"/data", nil)
		if err != nil {
			return nil, err
		}
		if code == http.StatusNotFound {
			return nil, sdkmcp.ResourceNotFoundError(req.Params.URI)
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("%s: HTTP %d: %s", req.Params.URI, code, client.Message(body))
		}
		return &sdkmcp.ReadResourceResult{Contents: []*sdkmcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(body)}}}, nil
	}
}

func (s *Server) get(ctx context.Context, path string) (*sdkmcp.CallToolResult, error) {
	code, body, err := s.backend.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return errorResult(err.Error()), nil
	}
	if code != http.StatusOK {
		return errorResult(fmt.Sprintf("HTTP %d: %s", code, client.Message(body))), nil
	}
	return &sdkmcp.CallToolResult{Content: []sdkmcp.Content{&sdkmcp.TextContent{Text: string(body)}}}, nil
}

func errorResult(msg string) *sdkmcp.CallToolResult {
	return &sdkmcp.CallToolResult{IsError: true, Content: []sdkmcp.Content{&sdkmcp.TextContent{Text: msg}}}
}

func objectSchema(props map[string]any, required []string) map[string]any {
	if props == nil {
		props = map[string]any{}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

// route is the REST route a built-in collector's actions go through, so
// that the REST validation of the target applies.
type route struct {
	arg, what string
	path      func(target, action string) string
}

var routes = map[string]route{
	"docker": {"id", "container id (12 or 64 lower-case hex digits) or name",
		func(id, a string) string { return "/docker/" + url.PathEscape(id) + "/" + url.PathEscape(a) }},
	"vm": {"name", "VM name (letters, digits, space, _ . -)",
		func(n, a string) string { return "/vm/" + url.PathEscape(n) + "/" + url.PathEscape(a) }},
	"disk": {"id", "disk id (e.g. disk1, parity, cache)",
		func(id, a string) string { return "/disks/" + url.PathEscape(id) + "/" + url.PathEscape(a) }},
}

var paramsSchema = map[string]any{
	"type":                 "object",
	"description":          "optional parameters passed to the action as strings (e.g. {\"timeout\": 30} for a container stop, {\"confirm\": true} for a VM reset)",
	"additionalProperties": map[string]any{"type": []string{"string", "number", "boolean"}},
}

// actionTool builds the tool of one declared action.
func (s *Server) actionTool(coll, action string) (*sdkmcp.Tool, sdkmcp.ToolHandler) {
	name := toolName(coll) + "_" + toolName(action)
	t := &sdkmcp.Tool{Name: name, Title: coll + " " + action,
		Annotations: &sdkmcp.ToolAnnotations{DestructiveHint: ptr(true)}}
	if r, ok := routes[coll]; ok {
		t.Description = fmt.Sprintf("Run %q on one %s item through POST /api/v1%s.", action, coll, r.path("{"+r.arg+"}", action))
		t.InputSchema = objectSchema(map[string]any{
			r.arg:    map[string]any{"type": "string", "description": r.what},
			"params": paramsSchema,
		}, []string{r.arg})
		return t, s.call(func(args map[string]any) (string, error) {
			target, ok := args[r.arg].(string)
			if !ok {
				return "", fmt.Errorf("argument %q (a string) is required", r.arg)
			}
			return r.path(target, action), nil
		})
	}
	if rest, ok := strings.CutPrefix(action, "parity-check-"); ok && coll == "array" {
		props := map[string]any{}
		if rest == "start" {
			props["correcting"] = map[string]any{"type": "boolean", "description": "true for a correcting check (writes parity); default false"}
		}
		t.Description = "Parity check: " + rest + " (POST /api/v1/array/parity-check/" + rest + ")."
		t.InputSchema = objectSchema(props, nil)
		return t, s.call(func(args map[string]any) (string, error) {
			path := "/array/parity-check/" + url.PathEscape(rest)
			if c, ok := args["correcting"].(bool); ok && rest == "start" {
				path += "?correcting=" + strconv.FormatBool(c)
			}
			delete(args, "correcting")
			return path, nil
		})
	}
	t.Description = fmt.Sprintf("Run the %q action the %s collector declares (POST /api/v1/collectors/%s/actions/%s); the collector validates target and params.", action, coll, coll, action)
	t.InputSchema = objectSchema(map[string]any{
		"target": map[string]any{"type": "string", "description": "what to act on, if the action needs it"},
		"params": paramsSchema,
	}, nil)
	return t, s.call(func(args map[string]any) (string, error) {
		if v, ok := args["target"]; ok {
			target, ok := v.(string)
			if !ok {
				return "", errors.New(`argument "target" must be a string`)
			}
			p, _ := args["params"].(map[string]any)
			if p == nil {
				p = map[string]any{}
			}
			p["target"] = target
			args["params"] = p
		}
		return "/collectors/" + url.PathEscape(coll) + "/actions/" + url.PathEscape(action), nil
	})
}

func ptr[T any](v T) *T { return &v }

// call runs an action tool: decode the arguments, let pathOf pick the REST
// path, POST params as the JSON body, and turn the answer into a result.
// A REST error (400 bad id, 404 unknown item, 503 disabled…) is a tool
// error carrying the REST message.
func (s *Server) call(pathOf func(args map[string]any) (string, error)) sdkmcp.ToolHandler {
	return func(ctx context.Context, req *sdkmcp.CallToolRequest) (*sdkmcp.CallToolResult, error) {
		args := map[string]any{}
		if raw := req.Params.Arguments; len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &args); err != nil {
				return errorResult("arguments must be a JSON object: " + err.Error()), nil
			}
		}
		path, err := pathOf(args)
		if err != nil {
			return errorResult(err.Error()), nil
		}
		var body []byte
		if p, ok := args["params"]; ok {
			m, ok := p.(map[string]any)
			if !ok {
				return errorResult(`argument "params" must be an object`), nil
			}
			if body, err = json.Marshal(m); err != nil {
				return errorResult(err.Error()), nil
			}
		}
		for k := range args {
			if k != "params" && k != "target" && k != "correcting" && !isRouteArg(k) {
				return errorResult(fmt.Sprintf("unknown argument %q", k)), nil
			}
		}
		code, answer, err := s.backend.Do(ctx, http.MethodPost, path, body)
		if err != nil {
			return errorResult(err.Error()), nil
		}
		if code != http.StatusOK {
			return errorResult(fmt.Sprintf("HTTP %d: %s", code, client.Message(answer))), nil
		}
		s.log.Info("MCP action", "path", path)
		return &sdkmcp.CallToolResult{Content: []sdkmcp.Content{&sdkmcp.TextContent{Text: string(answer)}}}, nil
	}
}

func isRouteArg(k string) bool {
	for _, r := range routes {
		if r.arg == k {
			return true
		}
	}
	return false
}

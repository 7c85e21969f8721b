package agent

import (
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/towerd/towerd/core/httpguard"
	"github.com/towerd/towerd/core/mcp"
	"github.com/towerd/towerd/sdk"
)

// MCPOptions configure the MCP server (core/mcp) on /mcp.
type MCPOptions struct {
	Enabled bool
	// ReadOnly hides and refuses the action tools.
	ReadOnly bool
}

// mcpGuard puts /mcp behind the API token when the MCP server is on.
func mcpGuard(g httpguard.Options, o MCPOptions) httpguard.Options {
	if !o.Enabled {
		return g
	}
	if g.AlsoProtected == nil {
		g.AlsoProtected = []string{"/metrics"} // httpguard's default, kept
	}
	g.AlsoProtected = append(slices.Clone(g.AlsoProtected), mcp.Path)
	return g
}

// mountMCP serves MCP over streamable HTTP on /mcp when it is on. Its
// tools call the REST router in process (the request has passed the
// guard), so nothing runs and nothing is allocated until a client comes.
func (a *Agent) mountMCP(r *mux.Router) {
	o := a.opts.MCP
	if !o.Enabled {
		return
	}
	srv := mcp.New(mcp.HandlerBackend(a.api.Router()), mcp.Options{ReadOnly: o.ReadOnly, Version: sdk.Version, Logger: a.log.Named("mcp")})
	r.Handle(mcp.Path, a.mcpOrigin(srv.HTTPHandler()))
	a.log.Info("MCP server on", "path", mcp.Path, "read_only", o.ReadOnly)
}

// mcpOrigin refuses browser requests from other sites, for every method:
// a request with an Origin must come from the page's own host or a
// configured CORS origin, the guard's check for the WebSocket (the MCP
// transport spec asks servers to check Origin; a token alone does not stop
// a page that was handed one). Clients that are not browsers send no
// Origin.
func (a *Agent) mcpOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.guard.CheckOrigin(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"success":false,"message":"origin not allowed on /mcp"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

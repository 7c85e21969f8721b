package agent

// MCPOptions configure the MCP server (core/mcp) on /mcp.
type MCPOptions struct {
	Enabled bool
	// ReadOnly hides and refuses the action tools.
	ReadOnly bool
}

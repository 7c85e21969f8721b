// Package mcp is towerd's Model Context Protocol server, built on the
// official SDK (github.com/modelcontextprotocol/go-sdk): AI assistants read
// what the collectors report and, when allowed, run the collectors'
// actions.
//
// Nothing is hand-written per collector. The tools and resources are
// derived from the collector list the REST API serves (GET
// /api/v1/collectors/status), and brought up to date before every
// tools/list, tools/call, resources/list and resources/read:
//
//   - list_collectors: every collector with its state;
//   - get_<collector>: the latest payload of each installed collector,
//     third-party ones included (GET /collectors/{name}/data: the bus cache);
//   - <collector>_<action>: one tool per action a running collector
//     declares; it becomes the very REST request a client would send
//     (POST /docker/{id}/{action}, /vm/{name}/{action}, /disks/{id}/{action},
//     /array/parity-check/{action}, else /collectors/{name}/actions/{action}),
//     so arguments are validated by the same code and reach the plugin by the
//     same path;
//   - a resource towerd://topics/<topic> per topic.
//
// Read-only is the default: action tools are then not listed, and a call
// to one is refused with a message naming the setting.
//
// The server talks to the agent through a Backend that sends REST
// requests: in the agent, straight to the API's router (the /mcp request
// has already passed the token, Origin and rate checks); for `towerd mcp`
// over stdio, over HTTP to the running agent with its token. The stdio
// server is a front for the running agent rather than a second agent,
// because the plugins, their state and the cache live in that one process;
// a second agent would start a second set of plugins.
package mcp

// Package core is the towerd host. Data flows one way through its packages:
//
//	supervisor (plugin processes) → scheduler (when to collect)
//	  → bus (latest payload per topic, fan-out) → api (REST) and hub (WebSocket)
//
// config persists the user's collector settings, catalog names the nine
// built-in collectors, and agent wires the pieces together for cmd/towerd.
package core

// Package e2e holds end-to-end tests of the core: a real towerd binary with
// real plugin processes, driven over real loopback HTTP and WebSocket
// connections through core/coretest.
package e2e

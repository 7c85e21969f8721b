// Package sdk is everything a towerd collector plugin needs: the go-plugin
// handshake and plugin map (defined once, here), the Collector interface a
// plugin author implements, Serve to run it, and the host-side Client the
// core uses to call it. The wire contract itself is proto/collector.proto;
// sdk/README.md describes it in prose for authors in any language.
package sdk

//go:build !towerd_plugin

package sdk

import "github.com/hashicorp/go-plugin"

// Handshake is shared by the core and every plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

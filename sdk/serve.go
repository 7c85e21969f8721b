package sdk

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs c as a towerd plugin until the core stops it. It is all a
// plugin's main needs:
//
//	func main() { sdk.Serve(&myCollector{}) }
func Serve(c Collector) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginMap(c),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          Logger(c.Describe().Name),
	})
}

// Logger returns the logger a plugin should use. It writes JSON lines to
// stderr, which the core parses and re-logs under the plugin's name.
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Output:     os.Stderr,
		JSONFormat: true,
		Level:      hclog.LevelFromString(os.Getenv(LogLevelEnv)),
	})
}

package sdk

import (
	"context"
	"errors"
	"time"
)

// ProtocolVersion is the version of the plugin contract. It changes only
// when proto/collector.proto changes incompatibly; the core refuses plugins
// that speak another version.
const ProtocolVersion = 1

// PluginName is the key of the collector service in go-plugin's plugin map.
const PluginName = "collector"

// The magic cookie of the handshake (see Handshake). It is not a security
// measure: it stops a plugin binary from being run by hand by mistake.
const (
	MagicCookieKey   = "TOWERD_PLUGIN"
	MagicCookieValue = "b7f3c1d2-towerd-collector"
)

// LogLevelEnv is set by the core on every plugin it starts, so plugins do
// not format log lines the core would throw away.
const LogLevelEnv = "TOWERD_LOG_LEVEL"

// Info describes a collector. Name must equal the plugin's file name in
// plugins.d and Topic must end in "_update".
type Info struct {
	Name            string
	Version         string
	Topic           string
	Description     string
	DefaultInterval time.Duration
	Actions         []string
	// WatchPaths are state files or folders, relative to the root, whose
	// change makes the core collect at once (debounced) instead of at the
	// next tick, e.g. "var/local/emhttp/var.ini". Plugins stay pull-only:
	// the core watches, the plugin is only asked to Collect.
	WatchPaths []string
}

// Bundle is what a plugin process serves: its name (the executable's file
// name), its version, and one collector or several. A single-collector
// plugin's bundle has one collector of the plugin's own name.
type Bundle struct {
	Name       string
	Version    string
	Collectors []Info
}

// Config is what the core passes to Configure.
type Config struct {
	// Collector names the collector of a bundle the options are for; empty
	// means the plugin's only collector.
	Collector string
	// Root is the host root the plugin reads state files under.
	Root string
	// Options are the collector's options from the core's config file.
	Options map[string]string
}

// Action is a control request forwarded from the REST API.
type Action struct {
	// Collector names the collector of a bundle that acts; empty means the
	// plugin's only collector.
	Collector string
	Name      string
	Target    string
	Params    map[string]string
}

// Collector is the interface every plugin implements.
//
// Collect returns the payload: any value that encodes to a JSON object or
// array (a json.RawMessage is sent as is). Lists must be empty slices, never
// nil, and every item carries a "timestamp". Collect is called one at a time,
// never concurrently with itself, at the interval the core schedules; it must
// return before ctx is done or the plugin is killed and restarted.
type Collector interface {
	Describe() Info
	Collect(ctx context.Context) (any, error)
}

// Configurable is implemented by collectors that take options. Configure is
// called after start and whenever the options change, before any Collect.
type Configurable interface {
	Configure(ctx context.Context, cfg Config) error
}

// Actor is implemented by collectors that offer control actions. Act returns
// a human-readable result. Errors should wrap ErrInvalidArgument,
// ErrNotFound, ErrUnsupported or ErrUnavailable so the REST API can answer
// with the right status.
type Actor interface {
	Act(ctx context.Context, action Action) (string, error)
}

// Errors a plugin wraps to classify a failed Act or Collect. They travel as
// gRPC status codes, so plugins in other languages use the same codes.
var (
	ErrInvalidArgument = errors.New("invalid argument")                  // codes.InvalidArgument, HTTP 400
	ErrNotFound        = errors.New("not found")                         // codes.NotFound, HTTP 404
	ErrUnsupported     = errors.New("unsupported action")                // codes.Unimplemented, HTTP 400
	ErrUnavailable     = errors.New("service unavailable")               // codes.Unavailable, HTTP 503
	ErrConflict        = errors.New("not possible in the current state") // codes.FailedPrecondition, HTTP 409
	ErrTooLarge        = errors.New("message too large")                 // codes.ResourceExhausted
)

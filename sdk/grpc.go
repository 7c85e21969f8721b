//go:build !towerd_plugin

package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/towerd/towerd/sdk/proto"
)

// PluginMap is the plugin set both sides hand to go-plugin. Impl is set only
// on the plugin side.
func PluginMap(impl Collector) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl}}
}

// GRPCPlugin adapts a Collector to go-plugin's gRPC transport.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Collector
}

// GRPCServer registers the collector service on the plugin side.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterCollectorServer(s, newGRPCServer(p.Impl.Describe().Name, []Collector{p.Impl}))
	return nil
}

// GRPCClient returns the host-side *Client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{rpc: pb.NewCollectorClient(c), Conn: c}, nil
}

// fromStatus turns a gRPC error back into an error that wraps the matching
// sentinel, keeping the plugin's message.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, ec := range errorCodes {
		if st.Code() == ec.code {
			return &remoteError{msg: st.Message(), kind: ec.err}
		}
	}
	return &remoteError{msg: st.Message()}
}

type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// Client is the host side of a plugin connection.
type Client struct {
	rpc pb.CollectorClient
	// Conn is the underlying connection; the core watches its state to
	// notice a plugin process that died.
	Conn *grpc.ClientConn
}

// Describe asks the plugin what it is.
func (c *Client) Describe(ctx context.Context) (Info, error) {
	r, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Info{}, fromStatus(err)
	}
	return singleInfo(r), nil
}

// singleInfo is the one collector a DescribeResponse in the single form
// describes.
func singleInfo(r *pb.DescribeResponse) Info {
	return Info{
		Name:            r.Name,
		Version:         r.Version,
		Topic:           r.Topic,
		Description:     r.Description,
		DefaultInterval: time.Duration(r.DefaultIntervalSeconds) * time.Second,
		Actions:         r.Actions,
		WatchPaths:      r.WatchPaths,
	}
}

// DescribeBundle asks the plugin what it serves: one collector (a plugin
// written before bundles, or a single-collector one) or several.
func (c *Client) DescribeBundle(ctx context.Context) (Bundle, error) {
	r, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Bundle{}, fromStatus(err)
	}
	b := Bundle{Name: r.Name, Version: r.Version}
	if len(r.Collectors) == 0 {
		b.Collectors = []Info{singleInfo(r)}
		return b, nil
	}
	for _, ci := range r.Collectors {
		b.Collectors = append(b.Collectors, Info{
			Name:            ci.Name,
			Version:         r.Version,
			Topic:           ci.Topic,
			Description:     ci.Description,
			DefaultInterval: time.Duration(ci.DefaultIntervalSeconds) * time.Second,
			Actions:         ci.Actions,
			WatchPaths:      ci.WatchPaths,
		})
	}
	return b, nil
}

// Configure passes options to the plugin (to cfg.Collector of a bundle).
func (c *Client) Configure(ctx context.Context, cfg Config) error {
	_, err := c.rpc.Configure(ctx, &pb.ConfigureRequest{Collector: cfg.Collector, Root: cfg.Root, Options: cfg.Options})
	return fromStatus(err)
}

// Collect runs one collection of the named collector ("" for a
// single-collector plugin) and returns the topic and JSON payload.
func (c *Client) Collect(ctx context.Context, collector string) (string, []byte, error) {
	r, err := c.rpc.Collect(ctx, &pb.CollectRequest{Collector: collector})
	if err != nil {
		return "", nil, fromStatus(err)
	}
	return r.Topic, r.Payload, nil
}

// Act runs a control action.
func (c *Client) Act(ctx context.Context, a Action) (string, error) {
	r, err := c.rpc.Act(ctx, &pb.ActRequest{Collector: a.Collector, Action: a.Name, Target: a.Target, Params: a.Params})
	if err != nil {
		return "", fromStatus(err)
	}
	return r.Message, nil
}

// ValidateInfo checks what a plugin says of itself against the contract.
func ValidateInfo(info Info) error {
	switch {
	case info.Name == "":
		return errors.New("plugin has no name")
	case !ValidName(info.Name):
		return fmt.Errorf("plugin name %q is not 1-64 of a-z, 0-9, '-' and '_'", info.Name)
	case len(info.Topic) <= len("_update") || info.Topic[len(info.Topic)-len("_update"):] != "_update":
		return fmt.Errorf("topic %q does not end in _update", info.Topic)
	}
	return nil
}

// ValidName reports whether s may name a plugin: 1 to 64 bytes of lower-case
// letters, digits, '-' and '_', so that it is safe in file names, URLs and
// logs.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/towerd/towerd/sdk"
	pb "github.com/towerd/towerd/sdk/proto"
)

// serveBadJSON speaks the contract directly, bypassing the SDK's encoding,
// to send a payload that is not JSON.
func serveBadJSON(c *testCollector) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.Handshake,
		Plugins:         plugin.PluginSet{sdk.PluginName: &rawPlugin{c: c}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

type rawPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	c *testCollector
}

func (p *rawPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterCollectorServer(s, &rawServer{c: p.c})
	return nil
}

func (p *rawPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

type rawServer struct {
	pb.UnimplementedCollectorServer
	c *testCollector
}

func (s *rawServer) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return &pb.DescribeResponse{Name: s.c.name, Version: "9.9.9", Topic: s.c.name + "_update", DefaultIntervalSeconds: 5}, nil
}

func (s *rawServer) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{}, nil
}

func (s *rawServer) Collect(context.Context, *pb.CollectRequest) (*pb.CollectResponse, error) {
	return &pb.CollectResponse{Topic: s.c.name + "_update", Payload: []byte("{not json")}, nil
}

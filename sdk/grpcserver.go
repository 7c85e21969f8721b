package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/towerd/towerd/sdk/proto"
)

// grpcServer is the plugin side of the collector service: it turns gRPC
// calls into calls of the process's collectors. It imports no go-plugin
// code, so a plugin built with the towerd_plugin tag links no host-side code.
type grpcServer struct {
	pb.UnimplementedCollectorServer
	name       string // the plugin's name: its one collector's, or the executable's for a bundle
	collectors []Collector
	byName     map[string]Collector
}

func newGRPCServer(name string, cs []Collector) *grpcServer {
	s := &grpcServer{name: name, collectors: cs, byName: make(map[string]Collector, len(cs))}
	for _, c := range cs {
		s.byName[c.Describe().Name] = c
	}
	return s
}

// bundle reports whether the process serves several collectors, which is
// described with DescribeResponse.collectors rather than the single form.
func (s *grpcServer) bundle() bool { return len(s.collectors) > 1 }

// collector finds the collector a request names; "" is the first, so a
// core that predates bundles keeps talking to single-collector plugins.
func (s *grpcServer) collector(name string) (Collector, error) {
	if name == "" {
		return s.collectors[0], nil
	}
	if c, ok := s.byName[name]; ok {
		return c, nil
	}
	return nil, status.Errorf(codes.NotFound, "plugin %q has no collector %q", s.name, name)
}

func (s *grpcServer) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	if !s.bundle() {
		info := s.collectors[0].Describe()
		return &pb.DescribeResponse{
			Name:                   info.Name,
			Version:                info.Version,
			Topic:                  info.Topic,
			Description:            info.Description,
			DefaultIntervalSeconds: uint32(info.DefaultInterval / time.Second),
			Actions:                info.Actions,
			WatchPaths:             info.WatchPaths,
		}, nil
	}
	r := &pb.DescribeResponse{Name: s.name, Version: s.collectors[0].Describe().Version}
	for _, c := range s.collectors {
		info := c.Describe()
		r.Collectors = append(r.Collectors, &pb.CollectorInfo{
			Name:                   info.Name,
			Topic:                  info.Topic,
			DefaultIntervalSeconds: uint32(info.DefaultInterval / time.Second),
			Actions:                info.Actions,
			Description:            info.Description,
			WatchPaths:             info.WatchPaths,
		})
	}
	return r, nil
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	c, err := s.collector(req.Collector)
	if err != nil {
		return nil, err
	}
	if cf, ok := c.(Configurable); ok {
		if err := cf.Configure(ctx, Config{Collector: req.Collector, Root: req.Root, Options: req.Options}); err != nil {
			return nil, toStatus(err)
		}
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) Collect(ctx context.Context, req *pb.CollectRequest) (*pb.CollectResponse, error) {
	c, err := s.collector(req.Collector)
	if err != nil {
		return nil, err
	}
	v, err := c.Collect(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode payload: %v", err)
	}
	if string(payload) == "null" {
		return nil, status.Error(codes.Internal, "collector returned a nil payload (use an empty slice for an empty list)")
	}
	return &pb.CollectResponse{Topic: c.Describe().Topic, Payload: payload}, nil
}

func (s *grpcServer) Act(ctx context.Context, req *pb.ActRequest) (*pb.ActResponse, error) {
	c, err := s.collector(req.Collector)
	if err != nil {
		return nil, err
	}
	a, ok := c.(Actor)
	if !ok || !slices.Contains(c.Describe().Actions, req.Action) {
		return nil, status.Errorf(codes.Unimplemented, "unknown action %q", req.Action)
	}
	msg, err := a.Act(ctx, Action{Collector: req.Collector, Name: req.Action, Target: req.Target, Params: req.Params})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ActResponse{Message: msg}, nil
}

var errorCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrInvalidArgument, codes.InvalidArgument},
	{ErrNotFound, codes.NotFound},
	{ErrUnsupported, codes.Unimplemented},
	{ErrUnavailable, codes.Unavailable},
	{ErrConflict, codes.FailedPrecondition},
	{ErrTooLarge, codes.ResourceExhausted},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

func toStatus(err error) error {
	for _, ec := range errorCodes {
		if errors.Is(err, ec.err) {
			return status.Error(ec.code, err.Error())
		}
	}
	return status.Error(codes.Unknown, err.Error())
}

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
// calls into calls of the Collector. It imports no go-plugin code, so a
// plugin built with the towerd_plugin tag links no host-side code.
type grpcServer struct {
	pb.UnimplementedCollectorServer
	impl Collector
}

func (s *grpcServer) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	info := s.impl.Describe()
	return &pb.DescribeResponse{
		Name:                   info.Name,
		Version:                info.Version,
		Topic:                  info.Topic,
		Description:            info.Description,
		DefaultIntervalSeconds: uint32(info.DefaultInterval / time.Second),
		Actions:                info.Actions,
	}, nil
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if c, ok := s.impl.(Configurable); ok {
		if err := c.Configure(ctx, Config{Root: req.Root, Options: req.Options}); err != nil {
			return nil, toStatus(err)
		}
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) Collect(ctx context.Context, _ *pb.CollectRequest) (*pb.CollectResponse, error) {
	v, err := s.impl.Collect(ctx)
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
	return &pb.CollectResponse{Topic: s.impl.Describe().Topic, Payload: payload}, nil
}

func (s *grpcServer) Act(ctx context.Context, req *pb.ActRequest) (*pb.ActResponse, error) {
	a, ok := s.impl.(Actor)
	if !ok || !slices.Contains(s.impl.Describe().Actions, req.Action) {
		return nil, status.Errorf(codes.Unimplemented, "unknown action %q", req.Action)
	}
	msg, err := a.Act(ctx, Action{Name: req.Action, Target: req.Target, Params: req.Params})
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

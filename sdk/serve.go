package sdk

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/towerd/towerd/sdk/proto"
)

// Memory defaults for plugin processes, applied by Serve unless the
// environment sets GOGC or GOMEMLIMIT. A collector's live heap is well
// under a megabyte, so the Go default (GOGC=100, which lets the heap grow
// to 4 MiB before the first collection) mostly holds garbage; ten plugin
// processes pay that ten times.
const (
	DefaultGOGC        = 50
	DefaultMemoryLimit = 32 << 20 // soft limit: GC works harder near it, never fails
)

// Serve runs c as a towerd plugin until the core stops it. It is all a
// plugin's main needs:
//
//	func main() { sdk.Serve(&myCollector{}) }
//
// Given several collectors, one process serves them all (a bundle, as
// netdata's go.d.plugin runs many modules in one process): each keeps its
// own name, topic, interval and actions, and the plugin's name is its
// executable's file name.
//
//	func main() { sdk.Serve(&notifications{}, &parity{}, &mover{}) }
//
// Serve speaks go-plugin's gRPC protocol (handshake line, health, broker,
// controller and stdio services) with grpc-go alone, without linking
// go-plugin's host-side machinery (net/rpc, yamux, TLS certificate
// generation); built with the towerd_plugin tag (as `make build` does) a
// plugin binary is about half the size and half the memory.
func Serve(c Collector, more ...Collector) {
	collectors := append([]Collector{c}, more...)
	name := c.Describe().Name
	if len(more) > 0 {
		name = filepath.Base(os.Args[0])
	}
	log := Logger(name)
	if os.Getenv(MagicCookieKey) != MagicCookieValue {
		fmt.Fprintln(os.Stderr, "This binary is a towerd plugin. It is not meant to be run directly;\n"+
			"the towerd core starts it from its plugins directory.")
		os.Exit(1)
	}
	tuneMemory()
	if err := serve(newGRPCServer(name, collectors), log); err != nil {
		log.Error("plugin stopped", "error", err)
		os.Exit(1)
	}
}

// tuneMemory applies DefaultGOGC and DefaultMemoryLimit where the user has
// not chosen otherwise.
func tuneMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}

func serve(srv *grpcServer, log hclog.Logger) error {
	if !acceptsVersion(os.Getenv("PLUGIN_PROTOCOL_VERSIONS")) {
		return fmt.Errorf("the core speaks plugin protocol %q; this plugin speaks %d",
			os.Getenv("PLUGIN_PROTOCOL_VERSIONS"), ProtocolVersion)
	}
	ln, err := listen(os.Getenv("PLUGIN_UNIX_SOCKET_DIR"))
	if err != nil {
		return err
	}
	defer ln.Close()

	// A fixed flow-control window turns off grpc-go's bandwidth estimator,
	// which answers every request with a PING: one more wakeup of the
	// plugin and of the core per collect. Requests are tiny.
	s := grpc.NewServer(grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	hs := health.NewServer()
	hs.SetServingStatus("plugin", healthpb.HealthCheckResponse_SERVING) // go-plugin's GRPCServiceName
	healthpb.RegisterHealthServer(s, hs)
	s.RegisterService(&controllerDesc, s)
	s.RegisterService(&brokerDesc, nil)
	s.RegisterService(&stdioDesc, nil)
	pb.RegisterCollectorServer(s, srv)

	// The core's terminal may send Ctrl-C to the whole process group; the
	// core stops its plugins itself (Shutdown or kill), so ignore it.
	signal.Ignore(os.Interrupt)

	// go-plugin's handshake: CORE-VERSION|APP-VERSION|NETWORK|ADDR|PROTOCOL|
	fmt.Printf("1|%d|%s|%s|grpc|\n", ProtocolVersion, ln.Addr().Network(), ln.Addr().String())
	_ = os.Stdout.Sync()
	log.Debug("plugin serving", "address", ln.Addr().String())
	return s.Serve(ln)
}

func acceptsVersion(list string) bool {
	if list == "" {
		return true // an old client that does not negotiate
	}
	for _, v := range strings.Split(list, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n == ProtocolVersion {
			return true
		}
	}
	return false
}

// listen opens a Unix socket under dir (the temp dir if empty), removed
// when the listener closes.
func listen(dir string) (net.Listener, error) {
	d, err := os.MkdirTemp(dir, "towerd-plugin")
	if err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	path := filepath.Join(d, "sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		_ = os.RemoveAll(d)
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return &cleanupListener{Listener: ln, dir: d}, nil
}

type cleanupListener struct {
	net.Listener
	dir string
}

func (l *cleanupListener) Close() error {
	err := l.Listener.Close()
	_ = os.RemoveAll(l.dir)
	return err
}

// The three go-plugin services a host may call besides the collector and
// health: GRPCController.Shutdown stops the plugin; the broker and stdio
// streams are held open and idle (towerd uses neither: plugins log to
// stderr directly, which the core reads).
var (
	controllerDesc = grpc.ServiceDesc{
		ServiceName: "plugin.GRPCController",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Shutdown",
			Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				if err := dec(new(emptypb.Empty)); err != nil {
					return nil, err
				}
				go srv.(*grpc.Server).Stop() // ends Serve, and so the process
				return new(emptypb.Empty), nil
			},
		}},
	}
	brokerDesc = grpc.ServiceDesc{
		ServiceName: "plugin.GRPCBroker",
		HandlerType: (*any)(nil),
		Streams:     []grpc.StreamDesc{{StreamName: "StartStream", Handler: idleStream, ServerStreams: true, ClientStreams: true}},
	}
	stdioDesc = grpc.ServiceDesc{
		ServiceName: "plugin.GRPCStdio",
		HandlerType: (*any)(nil),
		Streams:     []grpc.StreamDesc{{StreamName: "StreamStdio", Handler: idleStream, ServerStreams: true}},
	}
)

// idleStream keeps a stream open, sending nothing, until the client ends it.
func idleStream(_ any, stream grpc.ServerStream) error {
	<-stream.Context().Done()
	return nil
}

// Logger returns the logger a plugin should use. It writes JSON lines to
// stderr, which the core parses and re-logs under the plugin's name.
func Logger(name string) hclog.Logger {
	// No Name: the core already logs every plugin line under the plugin's
	// name (towerd.plugin.NAME); a name here would be printed twice.
	_ = name
	return hclog.New(&hclog.LoggerOptions{
		Output:     os.Stderr,
		JSONFormat: true,
		Level:      hclog.LevelFromString(os.Getenv(LogLevelEnv)),
	})
}

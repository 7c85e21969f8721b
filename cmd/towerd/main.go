// Command towerd is the towerd agent: `towerd` (or `towerd serve`) runs the
// host process that supervises the collector plugins and serves REST and
// WebSocket on :8043. `towerd collectors ...` and `towerd status` are
// clients of a running agent (cli.go).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/core/agent"
	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/catalog"
	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/core/diag"
	"github.com/towerd/towerd/core/httpguard"
	"github.com/towerd/towerd/core/logfile"
	"github.com/towerd/towerd/sdk"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if cmd := clientCommandAt(args); cmd >= 0 { // collectors, status, …: cli.go
		// Client flags may come before the command (towerd --addr H:P
		// collectors list): move the command to the front.
		moved := append([]string{args[cmd]}, args[:cmd]...)
		return runClient(append(moved, args[cmd+1:]...), stdout, stderr)
	}
	if len(args) > 0 && args[0] == "mcp" { // MCP over stdio: mcp.go
		return runMCP(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	err := serve(args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "towerd:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

// serveFlags are the flags of `towerd serve`.
type serveFlags struct {
	port, bind, pluginsDir, configPath, root, logLevel, disable, demo string
	logFile                                                           string
	logMaxSizeMB                                                      int
	intervals                                                         map[string]*int
	version                                                           bool
	token, tlsCert, tlsKey, corsOrigin, allowedHost                   string
	rateLimit                                                         float64
	debugRuntime                                                      bool
	mqtt                                                              *mqttFlags // mqtt.go
	noMDNS, noMCP, mcpReadOnly                                        bool
	mdnsName, mdnsMode                                                string
}

// TokenEnv names the environment variable holding the API token, so that
// the token need not appear on a command line (visible in ps).
const TokenEnv = "TOWERD_TOKEN"

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("towerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &serveFlags{intervals: map[string]*int{}}
	fs.StringVar(&f.port, "port", "8043", "TCP port for REST and WebSocket")
	fs.StringVar(&f.bind, "bind", "", "address to listen on (default all interfaces; e.g. 127.0.0.1)")
	fs.StringVar(&f.pluginsDir, "plugins-dir", defaultPluginsDir(), "directory of collector plugin executables")
	fs.StringVar(&f.configPath, "config", config.DefaultPath, "settings file; created on the first change")
	fs.StringVar(&f.root, "root", "/", "root of the Unraid state files (var/local/emhttp, boot/config, mnt)")
	fs.StringVar(&f.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fs.StringVar(&f.logFile, "log-file", "", "log file, rotated at --log-max-size-mb with one backup kept (default stderr)")
	fs.IntVar(&f.logMaxSizeMB, "log-max-size-mb", logfile.DefaultMaxSizeMB, "size in MB at which --log-file is rotated")
	fs.StringVar(&f.disable, "disable-collectors", "", "comma-separated collectors to disable for this run")
	fs.StringVar(&f.demo, "demo", "", "fixture Unraid tree to use as --root when the host is not Unraid (e.g. testdata/unraid)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.token, "token", "", "API token: require \"Authorization: Bearer <token>\" on /api/v1 (not /health); prefer $"+TokenEnv+" or \"token\" in the settings file")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate file; with --tls-key serves HTTPS and WSS")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key file for --tls-cert")
	fs.StringVar(&f.corsOrigin, "cors-origin", "", "comma-separated browser origins allowed to call the API (\"*\" for any; default none)")
	fs.StringVar(&f.allowedHost, "allowed-host", "", "comma-separated extra host names clients may use when no token is set (\"*\" for any; IP addresses, localhost and this machine's name always work)")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "requests per second per client address, burst twice that (default 50; negative: off; loopback is exempt)")
	fs.BoolVar(&f.debugRuntime, "debug-runtime", false, "serve GET /api/v1/debug/runtime (goroutines, heap, RSS)")
	f.mqtt = addMQTTFlags(fs)
	fs.BoolVar(&f.noMDNS, "no-mdns", false, "do not announce the API by zeroconf/mDNS (_unraid-mgmt-agent._tcp)")
	fs.StringVar(&f.mdnsName, "mdns-name", "", "mDNS instance name (default: the host name)")
	fs.StringVar(&f.mdnsMode, "mdns-mode", "auto", "how to announce: auto (avahi-daemon when it runs, else built in), avahi or builtin")
	fs.BoolVar(&f.noMCP, "no-mcp", false, "do not serve the MCP server on /mcp")
	fs.BoolVar(&f.mcpReadOnly, "mcp-read-only", true, "MCP: offer only read tools; --mcp-read-only=false adds one tool per collector action")
	for _, e := range catalog.Builtins {
		f.intervals[e.Name] = fs.Int("interval-"+e.Name, 0,
			fmt.Sprintf("%s collector interval in seconds for this run (default %d)", e.Name, int(e.Interval/time.Second)))
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: towerd [serve] [flags]\n\n"+
			"Runs the towerd agent: REST and WebSocket under /api/v1 on --port,\n"+
			"collectors from --plugins-dir. Flags override the settings file for this run.\n\n"+
			"Client commands talk to a running agent: towerd collectors list|enable|disable|interval,\n"+
			"towerd status, towerd diagnostics (see `towerd help`).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, fs, err
		}
		return nil, fs, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "towerd: unexpected argument %q (see towerd --help)\n", fs.Arg(0))
		return nil, fs, errUsage
	}
	return f, fs, nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	f, fs, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.version {
		fmt.Fprintln(stdout, "towerd", sdk.Version)
		return nil
	}
	limitProcs()
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	// The settings file is read before the log is opened (it may name the
	// log file); its own problems are logged once the log exists.
	store, err := config.Open(f.configPath)
	if err != nil {
		return err
	}
	cfg := store.Get()
	levelName := f.logLevel
	if !set["log-level"] && cfg.LogLevel != "" {
		levelName = cfg.LogLevel
	}
	level := hclog.LevelFromString(levelName)
	if level == hclog.NoLevel {
		return fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", levelName)
	}
	maxMB := f.logMaxSizeMB
	if !set["log-max-size-mb"] && cfg.LogMaxSizeMB != 0 {
		maxMB = cfg.LogMaxSizeMB
	}
	logOut, err := logfile.Open(logfile.Options{Path: pick(set["log-file"], f.logFile, cfg.LogFile), MaxSizeMB: maxMB, Stderr: stderr})
	if err != nil {
		return err
	}
	defer logOut.Close()
	log := hclog.New(&hclog.LoggerOptions{Name: "towerd", Level: level, Output: logOut})
	if rec := store.Recovered(); rec != nil {
		log.Error("settings file is corrupt; running on the last good copy", "error", rec,
			"last_good", store.Path()+config.LastGoodSuffix)
	}

	bind, port := cfg.Bind, strconv.Itoa(cfg.Port)
	if set["bind"] || bind == "" {
		bind = f.bind
	}
	if set["port"] || cfg.Port == 0 {
		port = f.port
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--port %q: want a number from 0 to 65535", port)
	}

	disabled := map[string]bool{}
	for _, n := range strings.Split(f.disable, ",") {
		if n = strings.TrimSpace(n); n != "" {
			disabled[n] = true
		}
	}
	intervals := map[string]time.Duration{}
	for name, v := range f.intervals {
		if !set["interval-"+name] {
			continue
		}
		// Checked in seconds, before the multiplication could overflow.
		if err := config.CheckInterval(int64(*v)); err != nil {
			return fmt.Errorf("--interval-%s: %w", name, err)
		}
		intervals[name] = time.Duration(*v) * time.Second
	}

	root := f.root
	if f.demo != "" && !isUnraid(root) {
		if root, err = filepath.Abs(f.demo); err != nil {
			return err
		}
		log.Info("not an Unraid host; demo mode on the fixture tree", "root", root)
	}
	if st, err := os.Stat(f.pluginsDir); err != nil || !st.IsDir() {
		return fmt.Errorf("--plugins-dir %s: not a directory (build the plugins with `make build`)", f.pluginsDir)
	}

	guard, err := guardOptions(f, set, cfg, log)
	if err != nil {
		return err
	}
	tlsCert, tlsKey := pick(set["tls-cert"], f.tlsCert, cfg.TLSCert), pick(set["tls-key"], f.tlsKey, cfg.TLSKey)
	if (tlsCert == "") != (tlsKey == "") {
		return errors.New("--tls-cert and --tls-key must be given together")
	}

	mqttOpts, err := resolveMQTT(f.mqtt, set, cfg.MQTT, bind, port, tlsCert != "", log)
	if err != nil {
		return err
	}
	mdnsOpts, mcpOpts, err := outputOptions(f, set, cfg, tlsCert != "")
	if err != nil {
		return err
	}

	addr := net.JoinHostPort(bind, port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS certificate %s / key %s: %w", tlsCert, tlsKey, err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		log.Info("TLS on", "cert", tlsCert)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a := agent.New(agent.Options{
		Addr:         addr,
		PluginsDir:   f.pluginsDir,
		Config:       store,
		Root:         root,
		Logger:       log,
		Disabled:     disabled,
		Intervals:    intervals,
		Guard:        guard,
		DebugRuntime: f.debugRuntime,
		MQTT:         mqttOpts,
		MDNS:         mdnsOpts,
		MCP:          mcpOpts,
	})
	// The diagnostics bundle needs the log and the settings, which only
	// serve holds; it is mounted beside the API, behind the same guard.
	pluginsDir := f.pluginsDir
	a.API().Router().Handle(api.Prefix+diag.BundlePath, diag.BundleHandler(func() diag.Source {
		return diag.Source{
			Version: sdk.Version, Settings: func() any { return store.Get() },
			Collectors: func() any { return a.Collectors() }, LogTail: logOut.Tail,
			PluginsDir: pluginsDir, Root: root, Secrets: []string{guard.Token},
		}
	})).Methods(http.MethodGet)
	log.Info("towerd starting", "version", sdk.Version, "config", store.Path(), "root", root)
	banner, exposed := startBanner(ln.Addr(), tlsCert != "", guard.Token != "")
	fmt.Fprint(stdout, banner)
	if exposed {
		log.Warn("listening beyond loopback with no API token: anyone who can reach this port can read and control the server",
			"addr", ln.Addr().String())
	}
	return a.Run(ctx, ln)
}

// guardOptions resolves the HTTP security settings: a flag given on the
// command line, then the environment (token only), then the settings file.
func guardOptions(f *serveFlags, set map[string]bool, cfg config.Config, log hclog.Logger) (httpguard.Options, error) {
	var o httpguard.Options
	o.Token = strings.TrimSpace(secret(set["token"], f.token, TokenEnv, cfg.Token, "token", log))
	if set["token"] && o.Token == "" {
		return o, errors.New("--token is empty")
	}
	for _, origin := range strings.Split(pick(set["cors-origin"], f.corsOrigin, cfg.CORSOrigin), ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			o.CORSOrigins = append(o.CORSOrigins, origin)
		}
	}
	for _, h := range strings.Split(pick(set["allowed-host"], f.allowedHost, cfg.AllowedHosts), ",") {
		if h = strings.TrimSpace(h); h != "" {
			o.AllowedHosts = append(o.AllowedHosts, h)
		}
	}
	o.Rate = cfg.RateLimit
	if set["rate-limit"] {
		if !(f.rateLimit <= config.MaxRateLimit) { // NaN too
			return o, fmt.Errorf("--rate-limit %g: want at most %g per second (negative or 0: off)", f.rateLimit, float64(config.MaxRateLimit))
		}
		o.Rate = f.rateLimit
		if o.Rate == 0 {
			o.Rate = -1 // an explicit 0 means off
		}
	}
	if o.Token != "" {
		log.Info("API token required", "open", "/api/v1/health")
	} else {
		log.Info("no API token: only requests addressed to an IP address, localhost, this machine's name or an --allowed-host are served",
			"allowed_hosts", strings.Join(o.AllowedHosts, ","))
	}
	return o, nil
}

// outputOptions resolves the mDNS and MCP settings: flags, then the file.
func outputOptions(f *serveFlags, set map[string]bool, cfg config.Config, tls bool) (agent.MDNSOptions, agent.MCPOptions, error) {
	m := agent.MDNSOptions{
		Enabled: cfg.MDNS.IsEnabled() && !f.noMDNS,
		Name:    pick(set["mdns-name"], f.mdnsName, cfg.MDNS.Name),
		Mode:    pick(set["mdns-mode"], f.mdnsMode, cfg.MDNS.Mode),
		TLS:     tls,
	}
	switch m.Mode {
	case "", "auto", "avahi", "builtin":
	default:
		return m, agent.MCPOptions{}, fmt.Errorf("--mdns-mode %q: want auto, avahi or builtin", m.Mode)
	}
	p := agent.MCPOptions{Enabled: cfg.MCP.IsEnabled() && !f.noMCP, ReadOnly: cfg.MCP.IsReadOnly()}
	if set["mcp-read-only"] {
		p.ReadOnly = f.mcpReadOnly
	}
	return m, p, nil
}

// startBanner is what serve prints at start: where the status page, the API
// and the WebSocket are, and a warning when the port is reachable from
// other machines with no token. exposed reports that case.
func startBanner(addr net.Addr, tls, token bool) (banner string, exposed bool) {
	host, port := "localhost", ""
	var ip net.IP
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, port = ta.IP, strconv.Itoa(ta.Port)
		if !ip.IsUnspecified() {
			host = ip.String()
		}
	}
	base := net.JoinHostPort(host, port)
	httpScheme, wsScheme := "http", "ws"
	if tls {
		httpScheme, wsScheme = "https", "wss"
	}
	var b strings.Builder
	where := addr.String()
	if ip.IsUnspecified() {
		where += " (all interfaces)"
	}
	fmt.Fprintf(&b, "towerd %s listening on %s\n", sdk.Version, where)
	fmt.Fprintf(&b, "  status page  %s://%s/\n", httpScheme, base)
	fmt.Fprintf(&b, "  REST API     %s://%s/api/v1/  (OpenAPI: /api/v1/openapi.json)\n", httpScheme, base)
	fmt.Fprintf(&b, "  WebSocket    %s://%s/api/v1/ws\n", wsScheme, base)
	exposed = !token && !ip.IsLoopback()
	if exposed {
		b.WriteString("WARNING: listening beyond loopback with NO API token: anyone who can reach this port\n" +
			"  can read and control this server. Set a token ($" + TokenEnv + " or \"token\" in the settings\n" +
			"  file) or listen on loopback only (--bind 127.0.0.1).\n")
	}
	return b.String(), exposed
}

// pick returns the flag value if the flag was given, else the file's.
func pick(flagSet bool, flagValue, fileValue string) string {
	if flagSet {
		return flagValue
	}
	return fileValue
}

// secret picks a secret: the flag if given (with a warning: other local
// users can read a command line), then the environment, then the file's.
func secret(flagSet bool, flagValue, env, fileValue, what string, log hclog.Logger) string {
	switch {
	case flagSet:
		log.Warn(what + " given on the command line, where other local users can read it; prefer $" + env + " or the settings file")
		return flagValue
	case os.Getenv(env) != "":
		return os.Getenv(env)
	}
	return fileValue
}

// isUnraid reports whether root holds emhttpd's state files.
func isUnraid(root string) bool {
	_, err := os.Stat(filepath.Join(root, "var/local/emhttp/var.ini"))
	return err == nil
}

// defaultPluginsDir is plugins.d beside the executable, or ../plugins.d
// when the executable sits in bin/ (a source checkout).
func defaultPluginsDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "plugins.d"
	}
	dir := filepath.Dir(exe)
	for _, d := range []string{filepath.Join(dir, "plugins.d"), filepath.Join(dir, "..", "plugins.d")} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return filepath.Join(dir, "plugins.d")
}

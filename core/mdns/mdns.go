package mdns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/towerd/towerd/internal/atomicfile"
)

// ServiceType is the DNS-SD type Home Assistant's Unraid integration
// declares in its manifest.
const ServiceType = "_unraid-mgmt-agent._tcp"

// Service is what is announced.
type Service struct {
	// Instance is the instance name shown to users (default: hostname).
	Instance string
	// Host is the host label the SRV record points at (<Host>.local;
	// default: hostname).
	Host string
	Port int
	// TXT holds key=value strings.
	TXT []string
	// Bind is the address the API listens on; nil or unspecified means
	// every interface, else only the interface holding it is announced on.
	Bind net.IP
}

// Modes of Options.Mode.
const (
	ModeAuto    = "auto"
	ModeAvahi   = "avahi"
	ModeBuiltin = "builtin"
)

// Options configure Start.
type Options struct {
	// Mode is "auto" (avahi when it runs, else builtin), "avahi" or
	// "builtin".
	Mode string
	// AvahiServicesDir is where avahi reads static services
	// (default /etc/avahi/services).
	AvahiServicesDir string
	// AvahiPIDFile tells whether avahi-daemon runs
	// (default /run/avahi-daemon/pid).
	AvahiPIDFile string
	Logger       hclog.Logger
}

// Announcer is a running announcement; Close withdraws it (goodbye).
type Announcer interface {
	// Mode is the way the service is announced ("avahi" or "builtin").
	Mode() string
	Close() error
}

// Start announces svc until Close.
func Start(svc Service, opts Options) (Announcer, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.AvahiServicesDir == "" {
		opts.AvahiServicesDir = "/etc/avahi/services"
	}
	if opts.AvahiPIDFile == "" {
		opts.AvahiPIDFile = "/run/avahi-daemon/pid"
	}
	if svc.Port <= 0 || svc.Port > 65535 {
		return nil, fmt.Errorf("mdns: port %d out of range", svc.Port)
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	if svc.Host == "" {
		svc.Host = host
	}
	svc.Host = hostLabel(svc.Host)
	if svc.Instance == "" {
		svc.Instance = host
	}
	// A dot would split the instance label; DNS-SD allows any UTF-8
	// otherwise, up to 63 bytes.
	svc.Instance = strings.ReplaceAll(svc.Instance, ".", "-")
	if len(svc.Instance) > 63 {
		svc.Instance = strings.ToValidUTF8(svc.Instance[:63], "") // not half a character
	}
	if svc.Instance == "" || svc.Host == "" {
		return nil, errors.New("mdns: no instance or host name (hostname unknown)")
	}
	switch opts.Mode {
	case "", ModeAuto:
		if AvahiRunning(opts.AvahiPIDFile) {
			a, err := startAvahi(svc, opts)
			if err == nil {
				return a, nil
			}
			opts.Logger.Warn("avahi-daemon runs but its services folder cannot be written; answering on 5353 beside it", "error", err)
		}
		return startResponder(svc, opts)
	case ModeAvahi:
		return startAvahi(svc, opts)
	case ModeBuiltin:
		return startResponder(svc, opts)
	}
	return nil, fmt.Errorf("mdns: mode %q: want auto, avahi or builtin", opts.Mode)
}

// AvahiRunning reports whether the process named in avahi-daemon's PID
// file is alive.
func AvahiRunning(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// hostLabel keeps the characters a host label may hold.
func hostLabel(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = out[:63]
	}
	return out
}

// avahiFile is the service file towerd owns.
const avahiFile = "towerd.service"

type avahi struct {
	path string
	log  hclog.Logger
}

func startAvahi(svc Service, opts Options) (Announcer, error) {
	path := filepath.Join(opts.AvahiServicesDir, avahiFile)
	// Through a rename, so avahi's folder watch never reads half a file.
	if err := atomicfile.Write(path, avahiService(svc), 0o644); err != nil {
		return nil, fmt.Errorf("mdns: write avahi service file: %w", err)
	}
	opts.Logger.Info("mDNS announced through avahi-daemon", "file", path, "type", ServiceType, "instance", svc.Instance, "port", svc.Port)
	return &avahi{path: path, log: opts.Logger}, nil
}

func (a *avahi) Mode() string { return ModeAvahi }

// Close removes the file; avahi then sends the goodbye.
func (a *avahi) Close() error {
	err := os.Remove(a.path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return err
}

// avahiService renders avahi's static service XML (avahi.service(5)).
func avahiService(svc Service) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" standalone='no'?>\n")
	b.WriteString("<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n")
	b.WriteString("<!-- written by towerd at start, removed at stop -->\n")
	b.WriteString("<service-group>\n  <name>" + xmlEscape(svc.Instance) + "</name>\n  <service>\n")
	b.WriteString("    <type>" + ServiceType + "</type>\n")
	b.WriteString("    <port>" + strconv.Itoa(svc.Port) + "</port>\n")
	for _, t := range svc.TXT {
		b.WriteString("    <txt-record>" + xmlEscape(t) + "</txt-record>\n")
	}
	b.WriteString("  </service>\n</service-group>\n")
	return []byte(b.String())
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			if r >= 0x20 {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

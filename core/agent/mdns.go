package agent

import (
	"net"
	"os"
	"strings"

	"github.com/towerd/towerd/core/api"
	"github.com/towerd/towerd/core/mdns"
	"github.com/towerd/towerd/sdk"
)

// MDNSOptions configure the zeroconf announcement (core/mdns).
type MDNSOptions struct {
	Enabled bool
	// Name is the instance name (default: the host name).
	Name string
	// Mode is core/mdns's mode: auto, avahi or builtin.
	Mode string
	// TLS makes the TXT record say scheme=https.
	TLS bool
	// AvahiServicesDir and AvahiPIDFile override core/mdns's defaults.
	AvahiServicesDir, AvahiPIDFile string
}

// startMDNS announces the API on the network unless turned off or bound to
// loopback; the returned function withdraws it (goodbye). When off, it
// starts nothing.
func (a *Agent) startMDNS(ln net.Listener) (stop func()) {
	o := a.opts.MDNS
	noop := func() {}
	if !o.Enabled {
		return noop
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return noop
	}
	if tcp.IP.IsLoopback() {
		a.log.Info("mDNS not announced: the API listens on loopback only", "addr", tcp.String())
		return noop
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	scheme := "http"
	if o.TLS {
		scheme = "https"
	}
	ann, err := mdns.Start(mdns.Service{
		Instance: o.Name,
		Port:     tcp.Port,
		Bind:     tcp.IP,
		TXT:      []string{"version=" + sdk.Version, "path=" + api.Prefix, "name=" + host, "scheme=" + scheme},
	}, mdns.Options{Mode: o.Mode, AvahiServicesDir: o.AvahiServicesDir, AvahiPIDFile: o.AvahiPIDFile, Logger: a.log.Named("mdns")})
	if err != nil {
		// Discovery is a convenience: the API serves on without it.
		a.log.Warn("mDNS announcement failed; clients must be given the address", "error", err)
		return noop
	}
	return func() {
		if err := ann.Close(); err != nil {
			a.log.Warn("mDNS withdraw", "error", err)
		}
	}
}

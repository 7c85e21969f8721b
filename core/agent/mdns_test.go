package agent

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/towerd/towerd/core/config"
	"github.com/towerd/towerd/sdk"
)

// The agent's side of the announcement: TXT keys from the version, the
// API prefix, the host name and TLS; nothing for a loopback listener. The
// avahi mode into a scratch folder opens no socket, so no real interface
// is announced on.
func TestMDNSAnnouncement(t *testing.T) {
	dir := t.TempDir()
	store, err := config.Open(filepath.Join(dir, "towerd.json"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "towerd.service")
	a := New(Options{Config: store, PluginsDir: dir, MDNS: MDNSOptions{
		Enabled: true, Name: "Tower TLS", Mode: "avahi", TLS: true, AvahiServicesDir: dir,
	}})

	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	a.startMDNS(lo)()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("announced while bound to loopback: %v", err)
	}

	all, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	stop := a.startMDNS(all)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	for _, want := range []string{"<name>Tower TLS</name>", "version=" + sdk.Version, "path=/api/v1", "name=" + host, "scheme=https",
		"<port>" + strconv.Itoa(all.Addr().(*net.TCPAddr).Port) + "</port>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("service file lacks %q:\n%s", want, b)
		}
	}
	stop()
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("service file left after stop: %v", err)
	}
}

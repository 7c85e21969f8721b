package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/towerd/towerd/core/coretest"
	"github.com/towerd/towerd/sdk/plugintest"
)

// broker is a real Mosquitto started by the test on a free loopback port.
type broker struct {
	URL  string // tcp://127.0.0.1:PORT or ssl://…
	Port int
	Dir  string
	CA   string // PEM file of the CA that signed the broker's certificate (TLS only)
	conf string
	cmd  *exec.Cmd
	log  *plugintest.SyncBuffer
	done chan struct{}
}

type brokerOptions struct {
	Users map[string]string // user → password; none: anonymous allowed
	TLS   bool
	Port  int // 0: a free one
}

func mosquittoPath(t testing.TB) string {
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	plugintest.Unavailable(t, "mosquitto is not installed (run .ci/setup.d/80-mosquitto.sh as root)")
	return ""
}

// startBroker writes a config and starts mosquitto; it is stopped when the
// test ends.
func startBroker(t testing.TB, o brokerOptions) *broker {
	t.Helper()
	bin := mosquittoPath(t)
	b := &broker{Dir: t.TempDir(), Port: o.Port}
	if b.Port == 0 {
		b.Port = coretest.FreePort(t)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "per_listener_settings false\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n")
	if os.Geteuid() == 0 {
		conf.WriteString("user root\n") // files in the test's temp dir stay readable
	}
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", b.Port)
	scheme := "tcp"
	if o.TLS {
		scheme = "ssl"
		ca, cert, key := writeCerts(t, b.Dir)
		b.CA = ca
		fmt.Fprintf(&conf, "cafile %s\ncertfile %s\nkeyfile %s\n", ca, cert, key)
	}
	if len(o.Users) > 0 {
		pw := filepath.Join(b.Dir, "passwd")
		for u, p := range o.Users {
			args := []string{"-b", pw, u, p}
			if _, err := os.Stat(pw); err != nil {
				args = append([]string{"-c"}, args...)
			}
			if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v: %s", err, out)
			}
		}
		_ = os.Chmod(pw, 0o600)
		fmt.Fprintf(&conf, "allow_anonymous false\npassword_file %s\n", pw)
	} else {
		conf.WriteString("allow_anonymous true\n")
	}
	b.conf = filepath.Join(b.Dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.URL = scheme + "://127.0.0.1:" + strconv.Itoa(b.Port)
	b.start(t, bin)
	t.Cleanup(b.Stop)
	return b
}

func (b *broker) start(t testing.TB, bin string) {
	t.Helper()
	b.log = &plugintest.SyncBuffer{}
	b.cmd = exec.Command(bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(b.cmd, b.done)
	plugintest.Eventually(t, 10*time.Second, func() bool {
		select {
		case <-b.done:
			t.Fatalf("mosquitto exited at start:\n%s", b.log)
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(b.Port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "mosquitto did not listen on %d:\n%s", b.Port, b.log)
}

// Stop ends the broker (SIGTERM, then SIGKILL); its retained messages are
// gone (no persistence), as after a restart of a broker without it.
func (b *broker) Stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGCONT) // in case a test paused it
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Restart stops the broker and starts it again on the same port.
func (b *broker) Restart(t testing.TB) {
	t.Helper()
	b.Stop()
	b.start(t, mosquittoPath(t))
}

// Signal sends sig to the broker (SIGSTOP makes a broker that does not
// read: a slow broker).
func (b *broker) Signal(sig syscall.Signal) { _ = b.cmd.Process.Signal(sig) }

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, as PEM files in dir.
func writeCerts(t testing.TB, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "towerd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for path, blk := range map[string]*pem.Block{
		ca: {Type: "CERTIFICATE", Bytes: caDER}, cert: {Type: "CERTIFICATE", Bytes: srvDER},
		key: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// watcher is a real MQTT client subscribed to "#": it keeps the last
// payload of every topic (an empty retained payload deletes it, as a
// broker does) and every message on topics ending in /result.
type watcher struct {
	c       paho.Client
	mu      sync.Mutex
	last    map[string][]byte
	cleared map[string]bool
	results [][]byte
}

func watch(t testing.TB, b *broker, user, pass string) *watcher {
	t.Helper()
	w := &watcher{last: map[string][]byte{}, cleared: map[string]bool{}}
	o := paho.NewClientOptions().AddBroker(b.URL).SetClientID(fmt.Sprintf("watcher-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) { c.Subscribe("#", 1, w.onMessage) })
	if b.CA != "" {
		o.SetTLSConfig(mustTLS(t, Options{TLSCA: b.CA}))
	}
	w.c = paho.NewClient(o)
	if tok := w.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher cannot connect to %s: %v", b.URL, tok.Error())
	}
	t.Cleanup(func() { w.c.Disconnect(100) })
	return w
}

func mustTLS(t testing.TB, o Options) *tls.Config {
	t.Helper()
	c, err := tlsConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *watcher) onMessage(_ paho.Client, m paho.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.HasSuffix(m.Topic(), "/result") {
		w.results = append(w.results, append([]byte(nil), m.Payload()...))
		return
	}
	if len(m.Payload()) == 0 {
		delete(w.last, m.Topic())
		w.cleared[m.Topic()] = true
		return
	}
	w.last[m.Topic()] = append([]byte(nil), m.Payload()...)
	delete(w.cleared, m.Topic())
}

// get returns the last payload of topic.
func (w *watcher) get(topic string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.last[topic]
	return b, ok
}

// wait polls until topic's last payload satisfies cond.
func (w *watcher) wait(t testing.TB, topic string, timeout time.Duration, cond func([]byte) bool) []byte {
	t.Helper()
	var b []byte
	plugintest.Eventually(t, timeout, func() bool {
		var ok bool
		b, ok = w.get(topic)
		return ok && (cond == nil || cond(b))
	}, "topic %s never had the expected payload; last %q", topic, &b)
	return b
}

// topics returns the current topics under prefix.
func (w *watcher) topics(prefix string) map[string][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range w.last {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// reset forgets everything seen (to see what is published again).
func (w *watcher) reset() {
	w.mu.Lock()
	w.last, w.cleared = map[string][]byte{}, map[string]bool{}
	w.mu.Unlock()
}

// publish sends a command as a client would.
func (w *watcher) publish(t testing.TB, topic, payload string) {
	t.Helper()
	if tok := w.c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// result waits for the result of command (the path after cmd/).
func (w *watcher) result(t testing.TB, command string, timeout time.Duration) map[string]any {
	t.Helper()
	var got map[string]any
	plugintest.Eventually(t, timeout, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i, r := range w.results {
			var m map[string]any
			if json.Unmarshal(r, &m) == nil && m["command"] == command {
				got = m
				w.results = append(w.results[:i], w.results[i+1:]...)
				return true
			}
		}
		return false
	}, "no result for command %s", command)
	return got
}

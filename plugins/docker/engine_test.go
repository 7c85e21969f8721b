package main

// The test Docker Engine: TestMain uses the daemon at DOCKER_HOST when one
// answers, else starts its own dockerd (vfs storage, private data/exec
// roots, socket and pidfile in a temp dir, no default bridge, no iptables)
// and stops it at the end. The test image is made with an image import of
// a busybox-static rootfs built here, so no registry is needed.

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/towerd/towerd/sdk/plugintest"
)

const (
	testImage = "towerd-test/busybox:latest"
	testLabel = "towerd.test"
)

// engine is the Docker Engine the tests use.
type engine struct {
	host    string // DOCKER_HOST value for the plugin
	cli     *client.Client
	network string // user-defined bridge network of the test
	gateway string // its gateway address, pinged by containers for traffic
	run     string // value of testLabel on everything this run creates
	skip    string // why there is no engine (tests then call Unavailable)

	cmd     *exec.Cmd // our dockerd, nil when an existing daemon is used
	waitCh  chan error
	dir     string
	ownsImg bool
}

var eng = &engine{}

func TestMain(m *testing.M) {
	code := func() int {
		if err := eng.setup(); err != nil {
			eng.skip = err.Error()
			fmt.Fprintf(os.Stderr, "\n!!! docker tests: NO DOCKER ENGINE: %v\n\n", err)
		}
		defer eng.teardown()
		return m.Run()
	}()
	os.Exit(code)
}

func (e *engine) setup() error {
	e.run = fmt.Sprintf("%d", os.Getpid())
	if h := os.Getenv("DOCKER_HOST"); h != "" && pingHost(h, 2*time.Second) == nil {
		e.host = h
	} else if err := e.startDockerd(); err != nil {
		return err
	}
	cli, err := client.New(client.WithHost(e.host))
	if err != nil {
		return err
	}
	e.cli = cli
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.importImage(ctx); err != nil {
		return err
	}
	net, err := cli.NetworkCreate(ctx, "towerd-test-"+e.run, client.NetworkCreateOptions{
		Driver: "bridge", Labels: map[string]string{testLabel: e.run},
	})
	if err != nil {
		return fmt.Errorf("create network: %w", err)
	}
	e.network = "towerd-test-" + e.run
	ins, err := cli.NetworkInspect(ctx, net.ID, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect network: %w", err)
	}
	if cfg := ins.Network.IPAM.Config; len(cfg) > 0 && cfg[0].Gateway.IsValid() {
		e.gateway = cfg[0].Gateway.String()
	}
	return nil
}

func pingHost(host string, d time.Duration) error {
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err = cli.Ping(ctx, client.PingOptions{})
	return err
}

// startDockerd starts a private dockerd and waits (bounded) until it answers.
func (e *engine) startDockerd() error {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return fmt.Errorf("dockerd not installed (apt-get install docker.io): %w", err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("dockerd needs root")
	}
	// Short path: the socket must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "twd-dockerd-")
	if err != nil {
		return err
	}
	e.dir = dir
	sock := filepath.Join(dir, "docker.sock")
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	e.cmd = exec.Command(bin,
		"--storage-driver=vfs",
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", "unix://"+sock,
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--shutdown-timeout=2",
	)
	e.cmd.Stdout, e.cmd.Stderr = log, log
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	exited := make(chan error, 1)
	e.waitCh = exited
	go func() { exited <- e.cmd.Wait() }()
	e.host = "unix://" + sock
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			e.cmd = nil
			b, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			return fmt.Errorf("dockerd exited: %v\n%s", err, tail(b, 2000))
		default:
		}
		if pingHost(e.host, time.Second) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// importImage builds a busybox-static rootfs tarball in memory and imports it.
func (e *engine) importImage(ctx context.Context) error {
	if _, err := e.cli.ImageInspect(ctx, testImage); err == nil {
		return nil
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static not installed (apt-get install busybox-static): %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "tmp/", "proc/", "sys/", "dev/", "etc/"} {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755})
	}
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))})
	_, _ = tw.Write(bb)
	for _, a := range []string{"sh", "sleep", "ping", "true"} {
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		return err
	}
	rc, err := e.cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, testImage, client.ImageImportOptions{})
	if err != nil {
		return fmt.Errorf("import image: %w", err)
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	e.ownsImg = true
	return nil
}

// spec describes a test container.
type spec struct {
	name    string
	publish bool   // publish 80/tcp on a random loopback port, expose 53/udp
	state   string // "running", "exited" (created, never started) or "paused"
	image   string // default testImage
}

// create makes a container labelled for this run; the test removes it.
// Running containers ping the network gateway once (network counters) and
// then idle; SIGTERM ends them at once, so stop/restart are quick.
func (e *engine) create(t testing.TB, s spec) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := "trap 'exit 0' TERM; while :; do sleep 0.2; done"
	if e.gateway != "" {
		script = "ping -c 2 -i 0.2 -W 1 " + e.gateway + " >/dev/null 2>&1; " + script
	}
	image := testImage
	if s.image != "" {
		image = s.image
	}
	cfg := &container.Config{
		Image:  image,
		Cmd:    []string{"/bin/sh", "-c", script},
		Labels: map[string]string{testLabel: e.run},
	}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(e.network)}
	if s.publish {
		p80 := network.MustParsePort("80/tcp")
		p53 := network.MustParsePort("53/udp")
		cfg.ExposedPorts = network.PortSet{p80: {}, p53: {}}
		hc.PortBindings = network.PortMap{p80: {{HostIP: mustAddr("127.0.0.1"), HostPort: ""}}}
	}
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: s.name})
	if err != nil {
		t.Fatalf("create container %s: %v", s.name, err)
	}
	t.Cleanup(func() { e.remove(res.ID) })
	if s.state == "running" || s.state == "paused" {
		if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("start %s: %v", s.name, err)
		}
	}
	if s.state == "paused" {
		if _, err := e.cli.ContainerPause(ctx, res.ID, client.ContainerPauseOptions{}); err != nil {
			t.Fatalf("pause %s: %v", s.name, err)
		}
	}
	return res.ID
}

func (e *engine) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
}

// inspect returns the daemon's view of a container's state.
func (e *engine) state(t testing.TB, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	return string(r.Container.State.Status)
}

func (e *engine) teardown() {
	if e.cli != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", testLabel+"="+e.run)})
		if err == nil {
			for _, c := range list.Items {
				e.remove(c.ID)
			}
		}
		if e.network != "" {
			_, _ = e.cli.NetworkRemove(ctx, e.network, client.NetworkRemoveOptions{})
		}
		if e.ownsImg && e.cmd == nil {
			_, _ = e.cli.ImageRemove(ctx, testImage, client.ImageRemoveOptions{Force: true})
		}
		cancel()
		_ = e.cli.Close()
	}
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.waitCh:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
			<-e.waitCh
		}
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// needEngine skips loudly (fails in CI) when there is no Docker Engine.
func needEngine(t *testing.T) {
	t.Helper()
	if eng.skip != "" {
		plugintest.Unavailable(t, "docker engine: %s", eng.skip)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

package plugintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
)

// Limits towerd applies to every plugin; Check holds a plugin to them.
const (
	// MaxPayload is the largest Collect payload towerd accepts.
	MaxPayload = 8 << 20
	// MinInterval is the shortest interval towerd schedules; a shorter
	// DefaultInterval is ignored.
	MinInterval = 5 * time.Second
	// ShutdownGrace is how long go-plugin waits for a plugin to exit after
	// asking it to (GRPCController.Shutdown) before it kills the process.
	ShutdownGrace = 2 * time.Second
)

// Contract tunes Check.
type Contract struct {
	// Config is passed to Configure before the first Collect, as towerd
	// does after every start. For a bundle it goes to every collector
	// (with Collector set to the collector's name) unless Configs has one
	// for it.
	Config sdk.Config
	// Configs are per-collector configs for a bundle, by collector name.
	Configs map[string]sdk.Config
	// Env is extra environment for the plugin process (KEY=VALUE).
	Env []string
	// Collects is how many times Collect is called, in a row, each payload
	// checked (default 2: the second call often takes another code path,
	// e.g. rates computed from the previous sample).
	Collects int
	// Timeout bounds each call, like the deadline towerd gives Collect
	// (default 10 s).
	Timeout time.Duration
}

// Result is what Check saw.
type Result struct {
	Info     sdk.Info
	Payloads [][]byte // one per Collect, in order (a bundle: its first collector's)
	// Collectors is every collector the plugin serves (one for a
	// single-collector plugin, equal to Info) and PayloadsOf their
	// payloads by collector name.
	Collectors []sdk.Info
	PayloadsOf map[string][][]byte
	// Plugin is still running (stopped when the test ends) for further
	// calls such as Act.
	Plugin *Plugin
}

// Check proves that the plugin executable at path (a Go binary from Build,
// or a script in any language with its shebang line) works with towerd. It
// checks, in order, and fails t with the reason at the first breach:
//
//   - run without towerd's magic cookie, it exits with an error instead of
//     serving;
//   - it completes go-plugin's handshake (protocol version sdk.ProtocolVersion,
//     gRPC) and answers the grpc.health.v1 health check for "plugin";
//   - Describe: CheckInfo, with the file name of path; a bundle (several
//     collectors in one process) is named like the file, and each of its
//     collectors passes CheckInfo under its own name, with names and topics
//     unique;
//   - for each collector: Configure with c.Config succeeds;
//   - for each collector: Collect, c.Collects times: the topic equals
//     Describe's, the payload is at most MaxPayload bytes and passes
//     CheckPayload;
//   - for each collector: Act with an action it did not declare fails with
//     sdk.ErrUnsupported (gRPC code Unimplemented);
//   - asked to stop, it exits within ShutdownGrace (checked at the end of
//     the test, after the caller's own calls on Result.Plugin).
func Check(t testing.TB, path string, c Contract) *Result {
	t.Helper()
	if c.Collects <= 0 {
		c.Collects = 2
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if err := CheckCookie(path, c.Timeout); err != nil {
		t.Fatalf("magic cookie: %v", err)
	}
	p, err := Launch(path, c.Env...)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() {
		start := time.Now()
		p.Kill()
		if took := time.Since(start); took >= ShutdownGrace {
			t.Errorf("plugin took %v to stop: it must exit when GRPCController.Shutdown is called", took.Round(time.Millisecond))
		}
	})
	if err := p.Ping(); err != nil {
		t.Fatalf("health check (grpc.health.v1.Health/Check for service \"plugin\"): %v", err)
	}
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), c.Timeout)
	}

	cx, cancel := ctx()
	b, err := p.DescribeBundle(cx)
	cancel()
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	file := filepath.Base(path)
	bundled := len(b.Collectors) != 1 || b.Collectors[0].Name != b.Name
	if err := checkBundle(b, file, bundled); err != nil {
		t.Fatalf("Describe: %v", err)
	}
	res := &Result{Info: b.Collectors[0], Plugin: p, Collectors: b.Collectors, PayloadsOf: map[string][][]byte{}}
	for _, info := range b.Collectors {
		wire, what := "", ""
		if bundled {
			wire, what = info.Name, " of collector "+info.Name
		}
		cfg := c.Config
		if cc, ok := c.Configs[info.Name]; ok {
			cfg = cc
		}
		cfg.Collector = wire
		cx, cancel = ctx()
		err = p.Configure(cx, cfg)
		cancel()
		if err != nil {
			t.Fatalf("Configure%s(%+v): %v", what, cfg, err)
		}

		for i := 1; i <= c.Collects; i++ {
			cx, cancel = ctx()
			start := time.Now()
			topic, payload, err := p.Collect(cx, wire)
			took := time.Since(start)
			if dl, ok := cx.Deadline(); err != nil && (cx.Err() == context.DeadlineExceeded || ok && time.Until(dl) < 100*time.Millisecond) {
				// Either end of the stream may report the overrun first (a
				// deadline error here, a reset from the plugin); name it alike.
				err = fmt.Errorf("%w: Collect did not return within %v", context.DeadlineExceeded, c.Timeout)
			}
			cancel()
			switch {
			case err != nil:
				t.Fatalf("Collect%s %d: %v (after %v)", what, i, err, took.Round(time.Millisecond))
			case topic != info.Topic:
				t.Fatalf("Collect%s %d returned topic %q, Describe said %q", what, i, topic, info.Topic)
			case len(payload) > MaxPayload:
				t.Fatalf("Collect%s %d: payload of %d bytes exceeds towerd's limit of %d", what, i, len(payload), MaxPayload)
			}
			if err := CheckPayload(payload); err != nil {
				t.Fatalf("Collect%s %d: payload breaks the contract: %v\n%s", what, i, err, truncate(payload, 2048))
			}
			res.PayloadsOf[info.Name] = append(res.PayloadsOf[info.Name], payload)
		}

		cx, cancel = ctx()
		_, err = p.Act(cx, sdk.Action{Collector: wire, Name: "no-such-action-plugintest"})
		cancel()
		if !errors.Is(err, sdk.ErrUnsupported) {
			t.Fatalf("Act%s with an undeclared action returned %v, want an error with gRPC code Unimplemented (sdk.ErrUnsupported)", what, err)
		}
	}
	res.Payloads = res.PayloadsOf[res.Info.Name]
	return res
}

// checkBundle checks a Describe answer: a single collector with CheckInfo,
// or a bundle named like the file whose collectors each pass CheckInfo
// under their own names, with names and topics unique.
func checkBundle(b sdk.Bundle, file string, bundled bool) error {
	if len(b.Collectors) == 0 {
		return errors.New("plugin describes no collector")
	}
	if !bundled {
		return CheckInfo(b.Collectors[0], file)
	}
	if b.Name != file {
		return fmt.Errorf("bundle calls itself %q but its file is named %q; towerd refuses it unless the names match", b.Name, file)
	}
	names, topics := map[string]bool{}, map[string]bool{}
	for _, info := range b.Collectors {
		if err := CheckInfo(info, info.Name); err != nil {
			return fmt.Errorf("collector %q: %w", info.Name, err)
		}
		if names[info.Name] || topics[info.Topic] {
			return fmt.Errorf("collector %q or its topic %q is described twice", info.Name, info.Topic)
		}
		names[info.Name], topics[info.Topic] = true, true
	}
	return nil
}

// CheckInfo checks what a plugin says of itself in Describe: the rules
// towerd enforces (sdk.ValidateInfo; the name equals fileName, the plugin's
// file name in plugins.d) and those that make it usable (a version; a
// default interval of 0 or at least MinInterval).
func CheckInfo(info sdk.Info, fileName string) error {
	if err := sdk.ValidateInfo(info); err != nil {
		return err
	}
	switch {
	case info.Name != fileName:
		return fmt.Errorf("plugin calls itself %q but its file is named %q; towerd refuses it unless the names match", info.Name, fileName)
	case info.Version == "":
		return errors.New("plugin has no version; GET /api/v1/collectors shows it")
	case info.DefaultInterval != 0 && info.DefaultInterval < MinInterval:
		return fmt.Errorf("default interval %v is below towerd's minimum of %v and would be ignored", info.DefaultInterval, MinInterval)
	}
	return nil
}

// CheckCookie runs the plugin at path without towerd's magic cookie in its
// environment and checks that it refuses to serve: it must exit non-zero
// within timeout without printing a handshake line.
func CheckCookie(path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout bytes.Buffer
	err := retryBusy(func() error {
		cmd := exec.CommandContext(ctx, path)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, sdk.Handshake.MagicCookieKey+"=") && !strings.HasPrefix(kv, "PLUGIN_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		stdout.Reset()
		cmd.Stdout = &stdout
		return cmd.Run()
	})
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("run without %s set, the plugin did not exit within %v", sdk.Handshake.MagicCookieKey, timeout)
	case err == nil:
		return fmt.Errorf("run without %s set, the plugin exited with status 0; it must fail", sdk.Handshake.MagicCookieKey)
	case bytes.Count(stdout.Bytes(), []byte("|")) >= 3:
		return fmt.Errorf("run without %s set, the plugin printed a handshake line: %q", sdk.Handshake.MagicCookieKey, stdout.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("run %s: %w", path, err)
	}
	return nil
}

// Ping runs go-plugin's health check: grpc.health.v1.Health/Check for the
// service "plugin".
func (p *Plugin) Ping() error {
	rpc, err := p.client.Client()
	if err != nil {
		return err
	}
	return rpc.Ping()
}

func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], "…"...)
}

// Package emhttpd sends commands to Unraid's emhttpd the way the webGUI
// and Lime Technology's own API do: an HTTP GET of /update.htm with a
// form-encoded query and the csrf_token from var.ini, over the unix socket
// <root>/var/run/emhttpd.socket. It also writes /proc/mdcmd, the md
// driver's command file, which is the fallback on hosts without the socket
// (older releases) and the path of the parity commands.
//
// No Unraid machine is reachable from the tests: they run a stand-in
// socket server that records each request (see emhttpd_test.go).
package emhttpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// Paths under the root.
const (
	Socket = "var/run/emhttpd.socket"
	MdCmd  = unraid.MdCmd
)

// Timeouts of one request (as the reference agent uses them).
const (
	dialTimeout    = 10 * time.Second
	requestTimeout = 30 * time.Second
	maxBody        = 1 << 20
)

// ErrNoSocket means emhttpd's socket is not there (not Unraid, or a
// release without it).
var ErrNoSocket = errors.New("emhttpd socket not found")

// Available reports whether <root>/var/run/emhttpd.socket exists and is a
// socket.
func Available(root string) bool {
	st, err := os.Stat(unraid.Join(root, Socket))
	return err == nil && st.Mode()&fs.ModeSocket != 0
}

// Send asks emhttpd to run the command in params. The csrf_token is read
// from var.ini on every call (emhttpd makes a new one when it restarts);
// without one nothing is sent. Only HTTP 200 is success; the body is not
// inspected (emhttpd reports the outcome in its state files, which the
// collectors read).
func Send(ctx context.Context, root string, params url.Values) error {
	sock := unraid.Join(root, Socket)
	if !Available(root) {
		return fmt.Errorf("%w at %s: %w", ErrNoSocket, sock, sdk.ErrUnavailable)
	}
	v, err := unraid.ReadVar(root)
	if err != nil {
		return fmt.Errorf("read csrf_token: %v: %w", err, sdk.ErrUnavailable)
	}
	if v.CSRFToken == "" {
		return fmt.Errorf("no csrf_token in %s; emhttpd would refuse the command: %w", unraid.VarIni, sdk.ErrUnavailable)
	}
	q := url.Values{}
	for k, vals := range params {
		q[k] = append([]string(nil), vals...)
	}
	q.Set("csrf_token", v.CSRFToken)

	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: dialTimeout}
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost/update.htm?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("emhttpd at %s: %v: %w", sock, err, sdk.ErrUnavailable)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emhttpd answered %s to %s", resp.Status, commandName(params))
	}
	return nil
}

// commandName names a command by its first cmd*/clear* key, for errors.
func commandName(params url.Values) string {
	for k := range params {
		if k != "startState" {
			return k
		}
	}
	return "the command"
}

// WriteMdCmd writes one command line to <root>/proc/mdcmd. It never
// creates the file: without it this is not an Unraid host.
func WriteMdCmd(root, cmd string) error {
	path := unraid.Join(root, MdCmd)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s missing (not an Unraid host): %w", path, sdk.ErrUnavailable)
		}
		return fmt.Errorf("open %s: %v: %w", path, err, sdk.ErrUnavailable)
	}
	_, werr := f.WriteString(cmd + "\n")
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %q to %s: %w", cmd, path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("write %q to %s: %w", cmd, path, cerr)
	}
	return nil
}

// HasMdCmd reports whether <root>/proc/mdcmd exists.
func HasMdCmd(root string) bool {
	_, err := os.Stat(unraid.Join(root, MdCmd))
	return err == nil
}

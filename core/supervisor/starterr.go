package supervisor

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/towerd/towerd/sdk"
)

// refusedError is a start failure that retrying cannot fix: the plugin
// breaks the contract (protocol version, name, topic). The plugin is marked
// failed at once and retried only at the longest backoff, in case its file
// or the plugin holding its topic changes.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return "refused: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

func refuse(format string, args ...any) error {
	return &refusedError{err: fmt.Errorf(format, args...)}
}

// go-plugin reports a protocol mismatch only in its error text.
var protoMismatch = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (-?\d+)`)

// pluginProtocol extracts the plugin's protocol version from go-plugin's
// version-mismatch error.
func pluginProtocol(err error) (int, bool) {
	m := protoMismatch.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	v, convErr := strconv.Atoi(m[1])
	return v, convErr == nil
}

// protocolRefusal says why a plugin of another protocol version is refused
// and what to do about it.
func protocolRefusal(v int) error {
	if v > sdk.ProtocolVersion {
		return refuse("plugin speaks towerd plugin protocol version %d, but this towerd speaks only version %d: "+
			"upgrade towerd, or use a release of the plugin built for protocol %d", v, sdk.ProtocolVersion, sdk.ProtocolVersion)
	}
	return refuse("plugin speaks towerd plugin protocol version %d, which this towerd no longer supports (it speaks version %d): "+
		"rebuild the plugin against the current towerd SDK", v, sdk.ProtocolVersion)
}

// startError shortens go-plugin's multi-paragraph handshake errors to their
// first line and adds what the plugin last said on stderr, which usually
// names the real cause (a bad cookie, a crash, a missing library).
func startError(err error, lastStderr string) error {
	msg := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	if lastStderr != "" {
		msg += "; plugin stderr: " + lastStderr
	}
	return errors.New(msg)
}

// tail keeps the last bytes a plugin wrote to stderr.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 2048

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

// lastLine returns the last three non-empty lines joined, at most 300
// bytes: enough for a panic's first line or a multi-line refusal.
func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	line := strings.Join(lines[max(0, len(lines)-3):], " ")
	if len(line) > 300 {
		line = line[len(line)-300:]
	}
	return line
}

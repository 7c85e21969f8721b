package supervisor

import (
	"errors"
	"strings"
	"sync"
)

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

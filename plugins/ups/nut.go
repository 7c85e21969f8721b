package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Limits on what a NUT server may send, so a broken or hostile server cannot
// make the plugin hold a big buffer.
const (
	nutMaxLine  = 4096 // upsd lines are short; NUT's own limit is 512
	nutMaxLines = 2048 // variables in one LIST reply
)

// errNUT is an "ERR <code>" reply from upsd.
type errNUT struct{ code, extra string }

func (e *errNUT) Error() string {
	if e.extra != "" {
		return "upsd: ERR " + e.code + " " + e.extra
	}
	return "upsd: ERR " + e.code
}

// nutStale reports whether an upsd error means the daemon runs but has no
// fresh data from the UPS (driver gone or data stale): not connected.
func nutStale(err error) bool {
	var e *errNUT
	if !errors.As(err, &e) {
		return false
	}
	switch e.code {
	case "DATA-STALE", "DRIVER-NOT-CONNECTED":
		return true
	}
	return false
}

// splitNUT splits one upsd reply line into words. Words are separated by
// spaces; a word in double quotes may hold spaces and the escapes \" and \\.
// It returns an error for an unterminated quote.
func splitNUT(line string) ([]string, error) {
	var words []string
	var b strings.Builder
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '"':
			b.Reset()
			i++
			closed := false
			for i < len(line) {
				c = line[i]
				if c == '\\' && i+1 < len(line) {
					b.WriteByte(line[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quote in %q", line)
			}
			words = append(words, b.String())
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' {
				j++
			}
			words = append(words, line[i:j])
			i = j
		}
	}
	return words, nil
}

// parseNUTErr returns the error an "ERR ..." line stands for, or nil.
func parseNUTErr(words []string) error {
	if len(words) == 0 || words[0] != "ERR" {
		return nil
	}
	e := &errNUT{code: "UNKNOWN"}
	if len(words) > 1 {
		e.code = words[1]
	}
	if len(words) > 2 {
		e.extra = strings.Join(words[2:], " ")
	}
	return e
}

// nutConn is one short-lived conversation with upsd.
type nutConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// readLine reads one line, refusing lines longer than nutMaxLine.
func (c *nutConn) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := c.r.ReadLine()
		if err != nil {
			if err == io.EOF {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > nutMaxLine {
			return "", fmt.Errorf("upsd line longer than %d bytes", nutMaxLine)
		}
		if !isPrefix {
			return strings.TrimRight(string(b), "\r"), nil
		}
	}
}

func (c *nutConn) send(cmd string) error {
	if _, err := io.WriteString(c.conn, cmd+"\n"); err != nil {
		return fmt.Errorf("send %q: %w", strings.Fields(cmd)[0], err)
	}
	return nil
}

// expectOK reads a reply that must be "OK ...".
func (c *nutConn) expectOK() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	words, err := splitNUT(line)
	if err != nil {
		return err
	}
	if err := parseNUTErr(words); err != nil {
		return err
	}
	if len(words) == 0 || words[0] != "OK" {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// readNUTList reads a "BEGIN LIST <what>" ... "END LIST <what>" block with
// next. It is separate from the connection so it can be fuzzed.
func readNUTList(next func() (string, error), what string) ([][]string, error) {
	line, err := next()
	if err != nil {
		return nil, err
	}
	words, err := splitNUT(line)
	if err != nil {
		return nil, err
	}
	if err := parseNUTErr(words); err != nil {
		return nil, err
	}
	if line != "BEGIN LIST "+what {
		return nil, fmt.Errorf("unexpected reply %q to LIST %s", line, what)
	}
	var out [][]string
	for {
		line, err := next()
		if err != nil {
			return nil, err
		}
		if line == "END LIST "+what {
			return out, nil
		}
		if len(out) >= nutMaxLines {
			return nil, fmt.Errorf("LIST %s: more than %d lines", what, nutMaxLines)
		}
		words, err := splitNUT(line)
		if err != nil {
			return nil, err
		}
		if err := parseNUTErr(words); err != nil {
			return nil, err
		}
		out = append(out, words)
	}
}

// parseUPSList returns the UPS names of a LIST UPS reply
// ("UPS <name> <description>" lines).
func parseUPSList(lines [][]string) []string {
	var names []string
	for _, w := range lines {
		if len(w) >= 2 && w[0] == "UPS" {
			names = append(names, w[1])
		}
	}
	return names
}

// parseVarList returns the variables of a LIST VAR <ups> reply
// ("VAR <ups> <name> <value>" lines) for that UPS.
func parseVarList(ups string, lines [][]string) map[string]string {
	vars := make(map[string]string, len(lines))
	for _, w := range lines {
		if len(w) == 4 && w[0] == "VAR" && w[1] == ups {
			vars[w[2]] = w[3]
		}
	}
	return vars
}

// nutQuote quotes s for a upsd command argument.
func nutQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// queryNUT opens one connection to upsd at addr, optionally logs in, picks
// the UPS (the first of LIST UPS when name is empty) and returns its name
// and variables. Every read and write is bounded by ctx's deadline.
func queryNUT(ctx context.Context, addr, name, user, pass string) (string, map[string]string, error) {
	name, vars, err := queryNUTConn(ctx, addr, name, user, pass)
	return name, vars, ctxErr(ctx, err)
}

// ctxErr names the deadline when it is what ended a conversation (closing
// the connection on ctx.Done otherwise reads as "use of closed connection").
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

func queryNUTConn(ctx context.Context, addr, name, user, pass string) (string, map[string]string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("dial upsd %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return "", nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	// Closing the connection when ctx ends unblocks a read even without a
	// deadline (a cancelled, not timed-out, context).
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c := &nutConn{conn: conn, r: bufio.NewReaderSize(conn, 1024)}
	// Commands are pipelined in one write: upsd answers each command with
	// several small writes, so a second request/response round trip on the
	// same connection waits on the client's delayed ACK (~40 ms); one write
	// per round trip keeps a collect under a millisecond on loopback.
	var batch strings.Builder
	if user != "" {
		batch.WriteString("USERNAME " + nutQuote(user) + "\nPASSWORD " + nutQuote(pass) + "\n")
	}
	if name == "" {
		batch.WriteString("LIST UPS\n")
	} else {
		batch.WriteString("LIST VAR " + name + "\nLOGOUT\n")
	}
	if err := c.send(strings.TrimSuffix(batch.String(), "\n")); err != nil {
		return "", nil, fmt.Errorf("upsd %s: %w", addr, err)
	}
	if user != "" {
		for _, what := range []string{"USERNAME", "PASSWORD"} {
			if err := c.expectOK(); err != nil {
				return "", nil, fmt.Errorf("upsd %s: %s: %w", addr, what, err)
			}
		}
	}
	if name == "" {
		lines, err := readNUTList(c.readLine, "UPS")
		if err != nil {
			return "", nil, fmt.Errorf("upsd %s: LIST UPS: %w", addr, err)
		}
		names := parseUPSList(lines)
		if len(names) == 0 {
			return "", nil, fmt.Errorf("upsd %s: no UPS configured", addr)
		}
		name = names[0]
		if !upsNameRE.MatchString(name) {
			return "", nil, fmt.Errorf("upsd %s: unusable UPS name %q", addr, name)
		}
		if err := c.send("LIST VAR " + name + "\nLOGOUT"); err != nil {
			return "", nil, fmt.Errorf("upsd %s: %w", addr, err)
		}
	}
	lines, err := readNUTList(c.readLine, "VAR "+name)
	if err != nil {
		return name, nil, fmt.Errorf("upsd %s: LIST VAR %s: %w", addr, name, err)
	}
	return name, parseVarList(name, lines), nil
}

// Package logfile is where towerd's log goes: a size-bounded file
// (lumberjack rotates it at MaxSizeMB and keeps one backup, so the log
// never takes more than twice that, which matters on Unraid where /var/log
// is RAM) or stderr, plus an in-memory ring of the last lines for the
// diagnostics bundle. Plugin log lines reach it through the core's hclog
// logger (the supervisor names them towerd.plugin.NAME), so there is one
// log and one bound.
package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"
)

// DefaultMaxSizeMB is the size at which the log file is rotated.
const DefaultMaxSizeMB = 5

// Backups is how many rotated files are kept beside the current one.
const Backups = 1

// Options say where the log goes.
type Options struct {
	Path      string // log file; empty: Stderr only
	MaxSizeMB int    // rotate at this size; 0: DefaultMaxSizeMB
	Stderr    io.Writer
	RingLines int // lines kept in memory for Tail; 0: 500
}

// Log is the destination of the core's logger.
type Log struct {
	out  io.Writer
	file *lumberjack.Logger
	ring *Ring
}

// Open prepares the destination. The file's directory is created; the file
// itself is created (0600: it may name paths and addresses) on the first
// write.
func Open(o Options) (*Log, error) {
	if o.RingLines == 0 {
		o.RingLines = 500
	}
	if o.MaxSizeMB == 0 {
		o.MaxSizeMB = DefaultMaxSizeMB
	}
	if o.MaxSizeMB < 1 {
		return nil, fmt.Errorf("log size %d MB: want at least 1", o.MaxSizeMB)
	}
	l := &Log{ring: NewRing(o.RingLines)}
	if o.Path == "" {
		if o.Stderr == nil {
			return nil, errors.New("no log file and no stderr")
		}
		l.out = io.MultiWriter(o.Stderr, l.ring)
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
		return nil, fmt.Errorf("log file %s: %w", o.Path, err)
	}
	// Fail now, with the path, rather than at the first log line.
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w", o.Path, err)
	}
	f.Close()
	l.file = &lumberjack.Logger{Filename: o.Path, MaxSize: o.MaxSizeMB, MaxBackups: Backups}
	l.out = io.MultiWriter(l.file, l.ring)
	return l, nil
}

// Write is the logger's output.
func (l *Log) Write(p []byte) (int, error) { return l.out.Write(p) }

// Tail returns the last lines written (at most the ring's size).
func (l *Log) Tail() []string { return l.ring.Lines() }

// Close closes the file, if any.
func (l *Log) Close() error {
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// Ring keeps the last n complete lines written to it.
type Ring struct {
	mu      sync.Mutex
	lines   []string
	next    int
	full    bool
	partial []byte
}

// NewRing keeps n lines.
func NewRing(n int) *Ring { return &Ring{lines: make([]string, n)} }

func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data := p
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// Keep a bounded unfinished line for the next write.
			r.partial = append(r.partial, data...)
			if len(r.partial) > 64<<10 {
				r.partial = r.partial[len(r.partial)-64<<10:]
			}
			return len(p), nil
		}
		line := string(append(r.partial, data[:i]...))
		r.partial = r.partial[:0]
		data = data[i+1:]
		r.lines[r.next] = line
		r.next = (r.next + 1) % len(r.lines)
		if r.next == 0 {
			r.full = true
		}
	}
}

// Lines returns the kept lines, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

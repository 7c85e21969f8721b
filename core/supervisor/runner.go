package supervisor

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// pipeGrace is how long the output pipes of an exited plugin are read
// before they are closed: long enough for its last stderr lines (usually
// the reason it died) to arrive, short enough that a child process still
// holding the pipes open cannot keep the core waiting.
const pipeGrace = 300 * time.Millisecond

// groupRunner is the go-plugin runner for a plugin process. It differs
// from go-plugin's own in what makes a frozen or careless plugin harmless:
//
//   - the plugin leads its own process group, and every kill and every
//     exit kills the whole group, so a child it left behind (`sleep 120 &`
//     in a wrapper script) dies with it;
//   - on Linux the kernel sends it SIGKILL when the core dies
//     (Pdeathsig), so a core killed with -9 leaves no orphans;
//   - its stdout and stderr are pipes the runner owns and closes pipeGrace
//     after the process exits, so Wait (and go-plugin's Kill, which waits
//     for the pipes to drain first) returns even while a grandchild holds
//     them open. exec.Cmd's WaitDelay does this for pipes it creates;
//     go-plugin reads these pipes itself, so the runner closes them.
type groupRunner struct {
	cmd *exec.Cmd
	log hclog.Logger

	stdout, stderr *pipeReader
	pid            int
	exited         chan struct{}
	waitErr        error
}

var _ runner.Runner = (*groupRunner)(nil)

func newGroupRunner(log hclog.Logger, cmd *exec.Cmd) *groupRunner {
	cmd.Stdin = nil // /dev/null: a plugin never reads the core's terminal
	cmd.SysProcAttr = procAttr()
	return &groupRunner{cmd: cmd, log: log, exited: make(chan struct{})}
}

func (r *groupRunner) Start(context.Context) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	r.cmd.Stdout, r.cmd.Stderr = outW, errW
	err = spawn(r.cmd)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	r.stdout, r.stderr = newPipeReader(outR), newPipeReader(errR)
	r.pid = r.cmd.Process.Pid
	go r.wait()
	return nil
}

// wait reaps the process, kills what is left of its group, and closes the
// pipes once drained or after pipeGrace.
func (r *groupRunner) wait() {
	awaitExit(r.pid)
	r.waitErr = r.cmd.Wait()
	_ = syscall.Kill(-r.pid, syscall.SIGKILL) // orphaned children of the plugin
	t := time.NewTimer(pipeGrace)
	defer t.Stop()
	for _, p := range []*pipeReader{r.stdout, r.stderr} {
		select {
		case <-p.eof:
		case <-t.C:
		}
		p.close()
	}
	close(r.exited)
}

func (r *groupRunner) Wait(context.Context) error {
	<-r.exited
	return r.waitErr
}

// Kill sends SIGKILL to the plugin's whole process group.
func (r *groupRunner) Kill(context.Context) error {
	if r.pid <= 0 {
		return nil
	}
	if err := syscall.Kill(-r.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// exitedCh is closed once the process is reaped and its pipes are closed.
func (r *groupRunner) exitedCh() <-chan struct{} { return r.exited }

func (r *groupRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *groupRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *groupRunner) Name() string          { return r.cmd.Path }
func (r *groupRunner) ID() string {
	if r.pid == 0 {
		return ""
	}
	return strconv.Itoa(r.pid)
}
func (r *groupRunner) Diagnose(context.Context) string { return "" }
func (r *groupRunner) PluginToHost(n, a string) (string, string, error) {
	return n, a, nil
}
func (r *groupRunner) HostToPlugin(n, a string) (string, string, error) {
	return n, a, nil
}

// pipeReader is a pipe's read end that reports when it has reached EOF and
// that may be closed while a read is blocked on it (os.File pipes are
// pollable, so Close wakes the reader).
type pipeReader struct {
	f       *os.File
	eof     chan struct{}
	eofOnce sync.Once
	closeMu sync.Once
}

func newPipeReader(f *os.File) *pipeReader { return &pipeReader{f: f, eof: make(chan struct{})} }

func (p *pipeReader) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	if err != nil {
		p.eofOnce.Do(func() { close(p.eof) })
		if errors.Is(err, os.ErrClosed) {
			err = io.EOF
		}
	}
	return n, err
}

func (p *pipeReader) Close() error { p.close(); return nil }

func (p *pipeReader) close() { p.closeMu.Do(func() { _ = p.f.Close() }) }

// spawnReqs carries process starts to the spawner goroutine.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn starts cmd from one goroutine locked to its OS thread for the
// life of the core. Linux sends the parent-death signal when the *thread*
// that forked the child exits, not the process; the Go runtime may retire
// an idle thread, which would kill a healthy plugin. The spawner's thread
// never exits, so the signal fires only when the core dies.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the core
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

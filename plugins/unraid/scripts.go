package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/towerd/towerd/sdk"
)

const (
	userScriptsDir = "boot/config/plugins/user.scripts/scripts"
	// maxOutput bounds what a run keeps of the script's stdout and stderr;
	// a script that prints forever fills this and the rest is dropped.
	maxOutput = 64 << 10
)

// UserScript is one script of the User Scripts plugin.
type UserScript struct {
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Path         string    `json:"path"`
	ScriptPath   string    `json:"script_path"`
	Executable   bool      `json:"executable"`
	LastModified string    `json:"last_modified"`
	Running      bool      `json:"running"`
	Timestamp    time.Time `json:"timestamp"`
}

// scriptName is the reference agent's rule: letters, digits, _ . -, not
// starting or ending with -, no "..".
var scriptName = regexp.MustCompile(`^[A-Za-z0-9_.]([A-Za-z0-9_.-]{0,253}[A-Za-z0-9_.])?$`)

func validScriptName(name string) error {
	if !scriptName.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("invalid script name %q: 1-255 of A-Z a-z 0-9 _ . -, not starting or ending with -, no ..: %w", clip(name), sdk.ErrInvalidArgument)
	}
	return nil
}

// scripts tracks the runs this process started, so a script is not run
// twice at once and the list can tell which ones run.
type scripts struct {
	mu      sync.Mutex
	running map[string]bool
}

func newUserScripts() *collector {
	s := &scripts{running: map[string]bool{}}
	c := newCollector(sdk.Info{
		Name:            "user_scripts",
		Topic:           "user_scripts_update",
		Description:     "scripts of the User Scripts plugin; execute one in the background with a timeout",
		DefaultInterval: 60 * time.Second,
		Actions:         []string{"execute"},
	}, map[string]string{"timeout": "1h", "wait_timeout": "50s", "shell": "/bin/bash"})
	c.CollectFunc = s.collect
	c.ActFunc = s.act
	return c
}

func (s *scripts) collect(_ context.Context, c *collector) (any, error) {
	dir := c.Path(userScriptsDir)
	entries, err := os.ReadDir(dir)
	out := []UserScript{}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		return nil, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if !e.IsDir() || validScriptName(e.Name()) != nil {
			continue
		}
		p := dir + "/" + e.Name() + "/script"
		st, err := os.Stat(p)
		hostPath := "/" + userScriptsDir + "/" + e.Name() + "/script" // as the host sees it
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		desc, _ := readSmall(dir+"/"+e.Name()+"/description", 16<<10)
		out = append(out, UserScript{
			Name:         e.Name(),
			Description:  strings.TrimSpace(string(desc)),
			Path:         hostPath,
			ScriptPath:   hostPath,
			Executable:   st.Mode().Perm()&0o400 != 0,
			LastModified: rfc3339(st.ModTime()),
			Running:      s.running[e.Name()],
			Timestamp:    now,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ExecResult is what the execute action answers, as JSON in the message
// (the REST route unpacks it into HA's UserScriptExecuteResponse).
type ExecResult struct {
	Message  string `json:"message"`
	Output   string `json:"output"`
	ExitCode *int   `json:"exit_code,omitempty"`
}

func (s *scripts) act(ctx context.Context, c *collector, a sdk.Action) (string, error) {
	if err := validScriptName(a.Target); err != nil {
		return "", err
	}
	script := c.Path(userScriptsDir) + "/" + a.Target + "/script"
	if st, err := os.Lstat(script); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("no user script %q: %w", a.Target, sdk.ErrNotFound)
	}
	// HA sends {"background":false,"wait":true}; an empty body means a
	// background run, as in the reference agent.
	wait := a.Params["wait"] == "true"
	s.mu.Lock()
	if s.running[a.Target] {
		s.mu.Unlock()
		return "", fmt.Errorf("script %s is already running: %w", a.Target, sdk.ErrConflict)
	}
	s.running[a.Target] = true
	s.mu.Unlock()

	timeout := c.OptDuration("timeout", time.Hour)
	out := &capped{max: maxOutput}
	// The script path is the only argument: nothing from the request
	// reaches a shell. Its own process group lets a timeout kill what it
	// started too.
	cmd := exec.Command(c.Opt("shell"), script)
	cmd.Dir = c.Path(userScriptsDir) + "/" + a.Target
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second // a child left holding stdout does not keep Wait forever
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
	if err := cmd.Start(); err != nil {
		s.done(a.Target)
		return "", fmt.Errorf("start %s: %w", a.Target, err)
	}
	finished := make(chan error, 1)
	go func() { // one goroutine per run, not per tick: waits and enforces the timeout
		t := time.NewTimer(timeout)
		defer t.Stop()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var err error
		select {
		case err = <-exited:
		case <-t.C:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			err = fmt.Errorf("killed after the %s timeout", timeout)
		}
		s.done(a.Target)
		if err != nil {
			log.Warn("user script failed", "script", a.Target, "error", err)
		}
		finished <- err
	}()
	if !wait {
		return result(ExecResult{Message: "Script " + a.Target + " started in background"}), nil
	}
	wt := time.NewTimer(c.OptDuration("wait_timeout", 50*time.Second))
	defer wt.Stop()
	select {
	case err := <-finished:
		code := cmd.ProcessState.ExitCode()
		r := ExecResult{Output: out.String(), ExitCode: &code}
		if err != nil {
			tail := r.Output
			if len(tail) > 2048 {
				tail = "…" + tail[len(tail)-2048:]
			}
			return "", fmt.Errorf("script %s failed: %v; output: %s", a.Target, err, tail)
		}
		r.Message = "Script " + a.Target + " completed successfully"
		return result(r), nil
	case <-ctx.Done():
	case <-wt.C:
	}
	return result(ExecResult{Message: "Script " + a.Target + " is still running in the background", Output: out.String()}), nil
}

func (s *scripts) done(name string) {
	s.mu.Lock()
	delete(s.running, name)
	s.mu.Unlock()
}

func result(r ExecResult) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.buf)
	if room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	if len(p) > room {
		c.dropped += int64(len(p) - max(room, 0))
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := string(c.buf)
	if c.dropped > 0 {
		s += fmt.Sprintf("\n[… %d more bytes of output dropped]", c.dropped)
	}
	return s
}

package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/core/coretest"
)

// cli runs the built towerd binary as a client and returns its exit code
// and output.
func cli(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(coretest.Towerd(t), args...)
	cmd.Env = append(os.Environ(), "TOWERD_ADDR=", "TOWERD_TOKEN=")
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run towerd %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// Every client command against a real towerd: the output, the effect
// (checked through REST), and the documented exit code.
func TestCLIAgainstAgent(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Plugins(t, "system", "network")})
	a.WaitCollector(t, "network", 30*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	addr := "--addr=" + a.Addr

	code, out, errOut := cli(t, nil, "collectors", "list", addr)
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "NAME") {
		t.Errorf("list: want a header and 9 rows:\n%s", out)
	}
	if f := strings.Fields(rowOf(out, "network")); len(f) < 4 || f[1] != "yes" || f[2] != "running" || f[3] != "15s" {
		t.Errorf("list: network row %q", rowOf(out, "network"))
	}
	t.Logf("collectors list:\n%s", out)

	// --json and the address from the environment; flags before the subcommand.
	code, out, _ = cli(t, []string{"TOWERD_ADDR=" + a.Addr}, "collectors", "--json", "list")
	var list struct {
		Collectors []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"collectors"`
		Total int `json:"total"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || list.Total != 9 || len(list.Collectors) != 9 {
		t.Errorf("list --json: exit %d, %q", code, out)
	}

	code, out, _ = cli(t, nil, "collectors", "disable", "network", addr)
	if code != exitOK || !strings.Contains(out, "network disabled") {
		t.Errorf("disable: exit %d %q", code, out)
	}
	if c := a.Collector(t, "network"); c.Enabled || c.Status != "disabled" {
		t.Errorf("after disable: %+v", c)
	}
	code, out, _ = cli(t, nil, "collectors", "enable", "network", addr, "--json")
	var res struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || !res.Success {
		t.Errorf("enable --json: exit %d %q", code, out)
	}
	a.WaitCollector(t, "network", 30*time.Second, func(c coretest.Collector) bool { return c.Enabled && c.Status == "running" })

	code, out, _ = cli(t, nil, "collectors", "interval", "network", "20", addr)
	if code != exitOK || !strings.Contains(out, "20s") {
		t.Errorf("interval: exit %d %q", code, out)
	}
	if c := a.Collector(t, "network"); c.IntervalSeconds != 20 {
		t.Errorf("interval now %d, want 20", c.IntervalSeconds)
	}

	code, _, errOut = cli(t, nil, "status", addr)
	if code != exitOK {
		t.Errorf("status: exit %d %s", code, errOut)
	}
	code, out, _ = cli(t, nil, "status", addr, "--json")
	var st struct {
		Health  string `json:"health"`
		Healthy bool   `json:"healthy"`
		System  struct {
			Hostname string `json:"hostname"`
		} `json:"system"`
	}
	host, _ := os.Hostname()
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.Health != "ok" || !st.Healthy || st.System.Hostname != host {
		t.Errorf("status --json: exit %d %q", code, out)
	}

	// Errors and their exit codes.
	for _, c := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"collectors", "disable", "system"}, exitError, "required"},
		{[]string{"collectors", "interval", "network", "3"}, exitError, "5 to 86400"},
		{[]string{"collectors", "enable", "nosuch"}, exitNotFound, "unknown collector"},
		{[]string{"collectors", "interval", "network", "ten"}, exitUsage, "whole number"},
		{[]string{"collectors", "frobnicate"}, exitUsage, "unknown collectors subcommand"},
		{[]string{"collectors", "enable"}, exitUsage, "needs one collector NAME"},
		{[]string{"status", "extra"}, exitUsage, "no arguments"},
		{[]string{"status", "--bogus"}, exitUsage, "flag provided but not defined"},
	} {
		code, _, errOut := cli(t, nil, append(c.args, addr)...)
		if code != c.want || !strings.Contains(errOut, c.msg) {
			t.Errorf("towerd %v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.want, errOut, c.msg)
		}
	}
}

func rowOf(table, name string) string {
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}

// A collector that keeps crashing makes `towerd status` exit 6 and name it.
func TestCLIStatusDegraded(t *testing.T) {
	t.Parallel()
	a := coretest.Start(t, coretest.Options{Plugins: coretest.Merge(coretest.Plugins(t, "system"), coretest.TestPlugins(t, "exit"))})
	a.WaitCollector(t, "system", 30*time.Second, func(c coretest.Collector) bool { return c.Status == "running" })
	a.WaitCollector(t, "exit", 30*time.Second, func(c coretest.Collector) bool { return c.Status == "failed" || c.Status == "restarting" })
	code, out, _ := cli(t, nil, "status", "--addr", a.Addr)
	if code != exitDegraded || !strings.Contains(out, "NOT RUNNING: exit (") {
		t.Errorf("status: exit %d (want %d):\n%s", code, exitDegraded, out)
	}
}

// No agent listening: exit 3. A token from --token or TOWERD_TOKEN is sent
// as a bearer token; a 401 exits 5.
func TestCLIUnreachableAndToken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if code, _, errOut := cli(t, nil, "status", "--addr", closed, "--timeout", "5s"); code != exitUnreachable || !strings.Contains(errOut, "not reachable") {
		t.Errorf("unreachable: exit %d %q", code, errOut)
	}

	// Auth is issue 9's middleware; a stand-in with its documented 401 shape.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"Unauthorized"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"collectors":[],"total":0,"enabled_count":0,"disabled_count":0,"timestamp":"2026-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	if code, _, errOut := cli(t, nil, "collectors", "list", "--addr", srv.URL); code != exitUnauthorized || !strings.Contains(errOut, "Unauthorized") {
		t.Errorf("no token: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, nil, "collectors", "list", "--addr", srv.URL, "--token", "s3cret"); code != exitOK {
		t.Errorf("--token: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, []string{"TOWERD_TOKEN=s3cret", "TOWERD_ADDR=" + srv.URL}, "collectors", "list"); code != exitOK {
		t.Errorf("TOWERD_TOKEN: exit %d %q", code, errOut)
	}
}

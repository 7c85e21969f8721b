package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/towerd/towerd/plugins/internal/unraid/unraidtest"
	"github.com/towerd/towerd/sdk"
	"github.com/towerd/towerd/sdk/plugintest"
)

func TestUserScriptsList(t *testing.T) {
	c := configured(t, newUserScripts(), fixture(t), nil)
	var got []UserScript
	collectInto(t, c, &got)
	if len(got) != 2 || got[0].Name != "backup_appdata" || got[0].Description != "Copies appdata to the backup share" ||
		got[0].ScriptPath != "/boot/config/plugins/user.scripts/scripts/backup_appdata/script" || got[0].ScriptPath != got[0].Path {
		t.Fatalf("scripts = %+v", got)
	}
	// No plugin: an empty list.
	c = configured(t, newUserScripts(), t.TempDir(), nil)
	if b := collectInto(t, c, nil); string(b) != "[]" {
		t.Errorf("no plugin: %s", b)
	}
}

func TestUserScriptExecute(t *testing.T) {
	root := unraidtest.CopyFixture(t)
	unraidtest.WriteFile(t, root, userScriptsDir+"/forever/script", "#!/bin/bash\nsleep 1000\n")
	unraidtest.WriteFile(t, root, userScriptsDir+"/chatty/script", "#!/bin/bash\nwhile :; do echo 0123456789abcdef; done\n")
	unraidtest.WriteFile(t, root, userScriptsDir+"/fails/script", "#!/bin/bash\necho oops\nexit 3\n")
	c := configured(t, newUserScripts(), root, map[string]string{"timeout": "2s", "wait_timeout": "300ms"})

	msg, err := act(c, "execute", "backup_appdata", map[string]string{"background": "false", "wait": "true"})
	if err != nil {
		t.Fatal(err)
	}
	var r ExecResult
	if err := json.Unmarshal([]byte(msg), &r); err != nil || r.Output != "backing up appdata\ndone\n" || r.ExitCode == nil || *r.ExitCode != 0 ||
		r.Message != "Script backup_appdata completed successfully" {
		t.Fatalf("execute: %q %v", msg, err)
	}

	_, err = act(c, "execute", "fails", map[string]string{"wait": "true"})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing script: %v", err)
	}

	// Background (empty body): answers at once; a second run is refused
	// while it runs; the timeout kills it.
	start := time.Now()
	msg, err = act(c, "execute", "forever", nil)
	if err != nil || !strings.Contains(msg, "started in background") || time.Since(start) > 2*time.Second {
		t.Fatalf("background: %q %v", msg, err)
	}
	_, err = act(c, "execute", "forever", nil)
	wantErr(t, err, sdk.ErrConflict, "second run")
	running := func() bool {
		var list []UserScript
		collectInto(t, c, &list)
		for _, s := range list {
			if s.Name == "forever" {
				return s.Running
			}
		}
		return false
	}
	if !running() {
		t.Error("forever is not listed as running")
	}
	plugintest.Eventually(t, 10*time.Second, func() bool { return !running() }, "the 2 s timeout did not end the script")

	// Waiting for a script that prints forever: the answer comes at the
	// wait timeout with bounded output; the run is killed at its timeout.
	msg, err = act(c, "execute", "chatty", map[string]string{"wait": "true"})
	if err != nil {
		t.Fatal(err)
	}
	r = ExecResult{}
	_ = json.Unmarshal([]byte(msg), &r)
	if !strings.Contains(r.Message, "still running") || len(r.Output) > maxOutput+200 {
		t.Errorf("chatty: message %q, %d bytes of output", r.Message, len(r.Output))
	}
	plugintest.Eventually(t, 10*time.Second, func() bool {
		var list []UserScript
		collectInto(t, c, &list)
		for _, s := range list {
			if s.Name == "chatty" {
				return !s.Running
			}
		}
		return false
	}, "chatty was not killed at its timeout")

	for _, bad := range []string{"..", "../../etc", "a/b", "-rf", "x-", "", "a..b", strings.Repeat("a", 300)} {
		_, err := act(c, "execute", bad, nil)
		wantErr(t, err, sdk.ErrInvalidArgument, "execute "+bad)
	}
	_, err = act(c, "execute", "nope", nil)
	wantErr(t, err, sdk.ErrNotFound, "unknown script")
}

func TestCapped(t *testing.T) {
	c := &capped{max: 10}
	for i := 0; i < 5; i++ {
		_, _ = c.Write([]byte("abcdef"))
	}
	if got := c.String(); !strings.HasPrefix(got, "abcdefabcd\n") || !strings.Contains(got, "20 more bytes") {
		t.Errorf("capped = %q", got)
	}
}

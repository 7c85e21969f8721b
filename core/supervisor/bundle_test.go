package supervisor

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/towerd/towerd/sdk"
)

// A bundle: one process serves two collectors, each with its own topic,
// actions and counters; the process runs while any of them is wanted; a
// crash restarts it and shows on both.
func TestBundleServesSeveralCollectors(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "bundle")
	var ready []string
	readyCh := make(chan string, 16)
	s := newSup(t, Options{Dir: dir, OnReady: func(n string, _ sdk.Info) { readyCh <- n }})
	if err := s.Start("bundle", sdk.Config{}); err != nil {
		t.Fatal(err)
	}
	one := waitUntil(t, s, "bundle_one", running)
	two := waitUntil(t, s, "bundle_two", running)
	if one.PID == 0 || one.PID != two.PID || one.Plugin != "bundle" || one.Info.Topic != "bundle_one_update" || two.Info.Topic != "bundle_two_update" {
		t.Fatalf("bundle collectors: %+v / %+v", one, two)
	}
	for len(ready) < 2 {
		ready = append(ready, <-readyCh)
	}
	if infos, ok := s.Described("bundle"); !ok || len(infos) != 2 {
		t.Errorf("Described = %v %v", infos, ok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range []string{"bundle_one", "bundle_two"} {
		topic, payload, err := s.Collect(ctx, n)
		if err != nil || topic != n+"_update" || !strings.Contains(string(payload), `"timestamp"`) {
			t.Errorf("collect %s: %q %s %v", n, topic, payload, err)
		}
	}
	if msg, err := s.Act(ctx, "bundle_two", sdk.Action{Name: "ping", Target: "x"}); err != nil || msg != "ping x ok" {
		t.Errorf("act: %q %v", msg, err)
	}
	if _, err := s.Act(ctx, "bundle_one", sdk.Action{Name: "explode"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("undeclared action: %v", err)
	}

	// One collector off: the process keeps serving the other.
	s.Stop("bundle_one")
	if _, _, err := s.Collect(ctx, "bundle_one"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("collect of a stopped collector: %v", err)
	}
	if st, _ := s.Status("bundle_two"); st.PID != one.PID || st.State != Running {
		t.Errorf("the other collector: %+v", st)
	}
	// Both off: the process stops.
	s.Stop("bundle_two")
	if st, _ := s.Status("bundle_two"); st.State != Stopped || st.PID != 0 || alive(one.PID) {
		t.Errorf("no collector wanted, process still there: %+v", st)
	}
	// One on: a new process serving only it; then the other joins it.
	_ = s.Start("bundle_two", sdk.Config{})
	second := waitUntil(t, s, "bundle_two", running)
	if _, _, err := s.Collect(ctx, "bundle_one"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("collector not enabled was started: %v", err)
	}
	_ = s.Start("bundle_one", sdk.Config{})
	if st, _ := s.Status("bundle_one"); st.PID != second.PID {
		t.Errorf("enabling the second collector changed the process: %+v vs %+v", st, second)
	}
	if _, _, err := s.Collect(ctx, "bundle_one"); err != nil {
		t.Errorf("collect after enable: %v", err)
	}

	// kill -9: one restart, reported on each collector.
	_ = syscall.Kill(second.PID, syscall.SIGKILL)
	for _, n := range []string{"bundle_one", "bundle_two"} {
		st := waitUntil(t, s, n, func(st Status) bool { return st.State == Running && st.PID != second.PID })
		if st.Restarts != 1 || !strings.Contains(st.LastError, "exited unexpectedly") {
			t.Errorf("%s after kill -9: %+v", n, st)
		}
	}
}

// Collector names are unique across plugins: a bundle describing a
// collector another plugin serves is refused with the reason.
func TestBundleDuplicateCollectorRefused(t *testing.T) {
	t.Parallel()
	dir := installTestPlugins(t, "echo", "dupbundle")
	s := newSup(t, Options{Dir: dir})
	s.Register([]string{"echo", "dupbundle"})
	_ = s.Start("echo", sdk.Config{})
	waitUntil(t, s, "echo", running)
	_ = s.Start("dupbundle", sdk.Config{})
	st := waitUntil(t, s, "dupbundle", func(st Status) bool { return st.State == Failed })
	if !strings.Contains(st.LastError, `collector name "echo"`) || !strings.Contains(st.LastError, "unique across plugins") {
		t.Errorf("duplicate collector: %q", st.LastError)
	}
	if st, _ := s.Status("echo"); st.State != Running || st.Plugin != "echo" {
		t.Errorf("echo disturbed: %+v", st)
	}
}

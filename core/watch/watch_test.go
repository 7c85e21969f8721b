package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/towerd/towerd/core/scheduler"
	"github.com/towerd/towerd/core/watch"
	"github.com/towerd/towerd/sdk/plugintest"
)

// Generous: the machine running the tests may be busy; the behaviour, not
// the speed, is under test here (the benchmark measures speed).
const deadline = 10 * time.Second

const varIni = "var/local/emhttp/var.ini"

// notes records Notify calls.
type notes struct {
	mu    sync.Mutex
	count map[string]int
	ch    chan string
}

func newNotes() *notes { return &notes{count: map[string]int{}, ch: make(chan string, 1024)} }

func (n *notes) notify(c string) {
	n.mu.Lock()
	n.count[c]++
	n.mu.Unlock()
	select {
	case n.ch <- c:
	default:
	}
}

func (n *notes) get(c string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.count[c]
}

// wait returns when collector c has been notified; other names are skipped.
func (n *notes) wait(t *testing.T, c string) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case got := <-n.ch:
			if got == c {
				return
			}
		case <-timeout:
			t.Fatalf("%s not notified within %v", c, deadline)
		}
	}
}

func start(t *testing.T, root string, notify func(string)) *watch.Watcher {
	t.Helper()
	w, err := watch.New(watch.Options{Root: root, Debounce: 20 * time.Millisecond, Notify: notify})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content to a temporary file beside path and renames it
// over path, as atomic writers and many editors do.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func stateTree(t *testing.T) (root, file string) {
	root = t.TempDir()
	file = filepath.Join(root, varIni)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, file, "mdState=\"STARTED\"\n")
	return root, file
}

func TestInPlaceWriteNotifies(t *testing.T) {
	root, file := stateTree(t)
	n := newNotes()
	w := start(t, root, n.notify)
	if err := w.Set("array", []string{varIni}); err != nil {
		t.Fatal(err)
	}
	write(t, file, "mdState=\"STOPPED\"\n")
	n.wait(t, "array")
}

func TestReplaceByRenameNotifiesEveryTime(t *testing.T) {
	root, file := stateTree(t)
	n := newNotes()
	w := start(t, root, n.notify)
	if err := w.Set("array", []string{varIni}); err != nil {
		t.Fatal(err)
	}
	before := w.Paths()
	// Each rename puts a new inode at the path; a watch on the file itself
	// would go blind after the first one.
	for i := range 3 {
		replace(t, file, "mdState=\"STOPPED\"\nround="+strconv.Itoa(i)+"\n")
		n.wait(t, "array")
	}
	if got := w.Paths(); !slices.Equal(got, before) {
		t.Fatalf("watched directories changed by renames: %v, then %v", before, got)
	}
	// A sibling file changing is not a change of var.ini.
	write(t, filepath.Join(filepath.Dir(file), "devs.ini"), "x=1\n")
	replace(t, file, "mdState=\"STARTED\"\n")
	n.wait(t, "array")
	if c := n.get("array"); c != 4 {
		t.Fatalf("array notified %d times for 4 changes of var.ini (and one of a sibling)", c)
	}
}

func TestDirectoryThatAppearsLater(t *testing.T) {
	root := t.TempDir()
	n := newNotes()
	w := start(t, root, n.notify)
	if err := w.Set("array", []string{varIni}); err != nil {
		t.Fatal(err)
	}
	if got := w.Paths(); !slices.Equal(got, []string{root}) {
		t.Fatalf("with nothing under the root, watched %v, want the root", got)
	}
	dir := filepath.Join(root, "var/local/emhttp")
	// mkdir -p and the write race the watcher's moves down the tree; the
	// file must be seen whichever wins.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "var.ini"), "mdState=\"STARTED\"\n")
	n.wait(t, "array")
	plugintest.Eventually(t, deadline, func() bool { return slices.Equal(w.Paths(), []string{dir}) },
		"watches did not move down to %s: %v", dir, w.Paths())

	// Removed and created again: the watch moves up, then down.
	if err := os.RemoveAll(filepath.Join(root, "var")); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, deadline, func() bool { return slices.Equal(w.Paths(), []string{root}) },
		"watches did not move up to the root: %v", w.Paths())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	replace(t, filepath.Join(dir, "var.ini"), "mdState=\"STOPPED\"\n")
	n.wait(t, "array")
}

func TestWatchedFolderEntries(t *testing.T) {
	root := t.TempDir()
	n := newNotes()
	w := start(t, root, n.notify)
	if err := w.Set("notifications", []string{"tmp/notifications/unread"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tmp/notifications/unread")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n.wait(t, "notifications") // the folder itself appeared
	write(t, filepath.Join(dir, "a.notify"), "event=x\n")
	n.wait(t, "notifications")
	if err := os.Remove(filepath.Join(dir, "a.notify")); err != nil {
		t.Fatal(err)
	}
	n.wait(t, "notifications")
}

func TestPathsOutsideTheRootAreRefused(t *testing.T) {
	root, _ := stateTree(t)
	w := start(t, root, func(string) {})
	err := w.Set("evil", []string{"../etc/passwd", "/etc/passwd", varIni})
	if err == nil {
		t.Fatal("paths outside the root accepted")
	}
	if got := w.Paths(); !slices.Equal(got, []string{filepath.Dir(filepath.Join(root, varIni))}) {
		t.Fatalf("watched %v; only the valid path's directory should be", got)
	}
	if err := w.Set("evil", nil); err != nil {
		t.Fatal(err)
	}
	if got := w.Paths(); len(got) != 0 {
		t.Fatalf("still watching %v after the paths were removed", got)
	}
}

// A storm of writes while a collect is running: the watcher notifies once
// per debounce window, and the scheduler keeps at most one collect pending
// behind the running one, so the storm costs two collects, not hundreds.
func TestStormDoesNotPileUpCollects(t *testing.T) {
	root, file := stateTree(t)
	var collects atomic.Int32
	gate := make(chan struct{})
	sched := scheduler.New(func(ctx context.Context, name string) {
		if collects.Add(1) == 1 {
			<-gate // the first collect is slow: it runs through the storm
		}
	})
	defer sched.StopAll()
	sched.Start("array", time.Hour, time.Hour)

	n := newNotes()
	w := start(t, root, func(c string) { n.notify(c); sched.Trigger(c) })
	if err := w.Set("array", []string{varIni}); err != nil {
		t.Fatal(err)
	}
	if err := w.Set("sentinel", []string{"var/local/emhttp/sentinel"}); err != nil {
		t.Fatal(err)
	}
	sched.Trigger("array")
	plugintest.Eventually(t, deadline, func() bool { return collects.Load() == 1 }, "first collect did not start")

	began := time.Now()
	const writes = 400
	for i := range writes {
		if i%2 == 0 {
			write(t, file, "mdState=\"STOPPED\"\nn="+strconv.Itoa(i)+"\n")
		} else {
			replace(t, file, "mdState=\"STARTED\"\nn="+strconv.Itoa(i)+"\n")
		}
	}
	// Events of one inotify instance arrive in order: once the sentinel's
	// change is notified, every window of the storm has been flushed.
	write(t, filepath.Join(root, "var/local/emhttp/sentinel"), "x")
	n.wait(t, "sentinel")
	took := time.Since(began)

	notified := n.get("array")
	windows := int(took/(20*time.Millisecond)) + 2
	if notified < 1 || notified > windows {
		t.Fatalf("%d writes over %v gave %d notifications; want 1..%d (one per window)", writes, took, notified, windows)
	}
	t.Logf("%d writes over %v: %d notifications", writes, took, notified)

	close(gate)
	plugintest.Eventually(t, deadline, func() bool { return collects.Load() == 2 }, "no collect after the storm")
	// One last change (a single rename event): exactly one more collect.
	replace(t, file, "mdState=\"STOPPED\"\n")
	plugintest.Eventually(t, deadline, func() bool { return collects.Load() >= 3 }, "no collect for the last change")
	sched.Stop("array")
	if c := collects.Load(); c != 3 {
		t.Fatalf("%d collects; want 3 (the running one, one for the storm, one for the last change)", c)
	}
}

func TestCloseStopsNotifications(t *testing.T) {
	root, file := stateTree(t)
	var after atomic.Bool
	var closed atomic.Bool
	w, err := watch.New(watch.Options{Root: root, Debounce: time.Millisecond, Notify: func(string) {
		if closed.Load() {
			after.Store(true)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Set("array", []string{varIni}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		write(t, file, "x")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	write(t, file, "y")
	if err := w.Set("array", []string{varIni}); err == nil {
		t.Fatal("Set after Close succeeded")
	}
	if after.Load() {
		t.Fatal("notified after Close returned")
	}
}

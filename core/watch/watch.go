// Package watch turns changes of the state files that collectors derive
// from into "collect now" requests, so a change on the server reaches
// clients in well under a second instead of at the next tick.
//
// The core owns one Watcher (one inotify instance through fsnotify) for
// every collector's watch paths, which are relative to the state root
// (--root). Plugins stay pull-only: they declare paths in Describe, the
// core watches and asks them to Collect.
//
// What the Watcher copes with:
//   - files replaced by rename (editors, emhttpd, atomic writers): it
//     watches the parent directory and filters by name, so the new inode
//     is seen without re-adding a watch;
//   - paths whose directory does not exist yet: it watches the nearest
//     existing ancestor and moves down (re-arms) as directories appear,
//     and back up when they are removed;
//   - storms of writes: changes are gathered for one debounce window
//     (Options.Debounce after the first change) and then each affected
//     collector is notified once. Notify is expected to coalesce (the
//     scheduler's Trigger keeps at most one collect pending behind a
//     running one), so a storm never piles collects up.
package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
)

// DefaultDebounce is how long changes are gathered before collectors are
// notified: long enough to see the end of a typical rewrite (truncate,
// write, close, or write temp file, rename), short enough to be invisible
// next to a client's round trip.
const DefaultDebounce = 75 * time.Millisecond

// MaxPathsPerCollector bounds the inotify watches one (possibly
// third-party) collector can make the core hold.
const MaxPathsPerCollector = 32

// Options configure a Watcher.
type Options struct {
	// Root is the state root the watch paths are relative to ("/" if empty).
	Root string
	// Debounce is the gathering window (DefaultDebounce if zero).
	Debounce time.Duration
	// Notify is called, from the watcher's own goroutine, once per window
	// for each collector whose paths changed. It must not block for long.
	Notify func(collector string)
	Logger hclog.Logger
}

// Watcher watches the paths of every collector. Its methods are safe for
// concurrent use.
type Watcher struct {
	opts Options
	fs   *fsnotify.Watcher
	done chan struct{}

	// flushing is held while a window's collectors are notified, so Close
	// can wait for that to end.
	flushing sync.Mutex

	mu      sync.Mutex
	paths   map[string][]string        // collector → absolute target paths
	targets map[string]map[string]bool // absolute target path → collectors
	armed   map[string]bool            // directories fsnotify watches now
	exists  map[string]bool            // target path → it existed at the last arm
	pending map[string]bool            // collectors changed in this window
	timer   *time.Timer                // the open window; nil when none
	closed  bool
}

// New starts a watcher. It fails only if the system has no inotify
// instance to give (the caller then runs on intervals alone).
func New(opts Options) (*Watcher, error) {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Notify == nil {
		opts.Notify = func(string) {}
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("watch root %s: %w", opts.Root, err)
	}
	opts.Root = root
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("file watcher: %w", err)
	}
	w := &Watcher{
		opts: opts, fs: fw, done: make(chan struct{}),
		paths: map[string][]string{}, targets: map[string]map[string]bool{},
		armed: map[string]bool{}, exists: map[string]bool{}, pending: map[string]bool{},
	}
	go w.loop()
	return w, nil
}

// Set replaces the watch paths of collector (relative to the root, e.g.
// "var/local/emhttp/var.ini"); no paths stops watching for it. A path
// that is absolute or leaves the root is refused with an error, and the
// valid ones are still watched.
func (w *Watcher) Set(collector string, rel []string) error {
	var abs []string
	var errs []error
	seen := map[string]bool{}
	for _, p := range rel {
		if !filepath.IsLocal(p) {
			errs = append(errs, fmt.Errorf("watch path %q of %s: must be relative to the root and stay inside it", p, collector))
			continue
		}
		a := filepath.Join(w.opts.Root, p)
		if seen[a] {
			continue
		}
		if len(abs) == MaxPathsPerCollector {
			errs = append(errs, fmt.Errorf("%s: more than %d watch paths; the rest are ignored", collector, MaxPathsPerCollector))
			break
		}
		seen[a] = true
		abs = append(abs, a)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("watcher closed")
	}
	for _, a := range w.paths[collector] {
		delete(w.targets[a], collector)
		if len(w.targets[a]) == 0 {
			delete(w.targets, a)
		}
	}
	delete(w.paths, collector)
	if len(abs) > 0 {
		w.paths[collector] = abs
		for _, a := range abs {
			if w.targets[a] == nil {
				w.targets[a] = map[string]bool{}
			}
			w.targets[a][collector] = true
		}
	}
	w.rearm()
	return errors.Join(errs...)
}

// Paths returns the directories watched now, sorted (for tests and
// diagnostics).
func (w *Watcher) Paths() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.armed))
	for d := range w.armed {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Close stops watching; no Notify call starts after it returns. It must
// not be called from Notify.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.mu.Unlock()
	err := w.fs.Close()
	<-w.done
	w.flushing.Lock() // a flush that passed its closed check ends first
	w.flushing.Unlock()
	return err
}

// rearm makes the set of watched directories match the targets: for each
// target its parent directory (or its nearest existing ancestor), and the
// target itself when it is a directory (to see its entries change). A
// target that has come into existence since the last arm counts as
// changed: it may have been created and written before its directory was
// watched. It repeats until nothing moves, so a directory created
// between a look and the watch that would have seen it is not missed.
// Callers hold w.mu.
func (w *Watcher) rearm() {
	for range 8 {
		if !w.rearmOnce() {
			return
		}
	}
}

func (w *Watcher) rearmOnce() (changed bool) {
	want := map[string]bool{}
	for t, cs := range w.targets {
		dir := nearestDir(filepath.Dir(t), w.opts.Root)
		want[dir] = true
		fi, err := os.Stat(t)
		now := err == nil
		if now && fi.IsDir() {
			want[t] = true
		}
		if now && !w.exists[t] {
			if _, known := w.exists[t]; known { // appeared; not the first arm
				w.markLocked(cs)
			}
		}
		w.exists[t] = now
	}
	for t := range w.exists {
		if w.targets[t] == nil {
			delete(w.exists, t)
		}
	}
	for d := range w.armed {
		if !want[d] {
			_ = w.fs.Remove(d) // fails if the directory is gone; fine
			delete(w.armed, d)
			changed = true
		}
	}
	for d := range want {
		if w.armed[d] {
			continue
		}
		if err := w.fs.Add(d); err != nil {
			// Removed meanwhile: the event for that will re-arm.
			w.opts.Logger.Debug("cannot watch", "dir", d, "error", err)
			continue
		}
		w.armed[d] = true
		changed = true
	}
	return changed
}

// nearestDir returns dir if it exists, else its nearest existing ancestor,
// never above root.
func nearestDir(dir, root string) string {
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
		if dir == root || dir == filepath.Dir(dir) {
			return root
		}
		dir = filepath.Dir(dir)
	}
}

func (w *Watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: any collector may have missed its change.
				w.mu.Lock()
				for _, cs := range w.targets {
					w.markLocked(cs)
				}
				w.rearm()
				w.mu.Unlock()
			}
			w.opts.Logger.Warn("file watcher", "error", err)
		}
	}
}

// handle maps one event to the collectors it concerns. Attribute changes
// alone (touch, chmod) are ignored: the content did not change.
func (w *Watcher) handle(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if cs := w.targets[ev.Name]; cs != nil {
		w.markLocked(cs)
	}
	if cs := w.targets[filepath.Dir(ev.Name)]; cs != nil { // an entry of a watched folder
		w.markLocked(cs)
	}
	// A directory appeared or vanished on the way to a target (or a
	// watched directory itself was removed or renamed): move the watches.
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if w.onPath(ev.Name) {
			w.rearm()
		}
	}
}

// onPath reports whether p is a target (which may be a folder to watch
// inside), an ancestor of one, or an armed directory.
func (w *Watcher) onPath(p string) bool {
	if w.armed[p] || w.targets[p] != nil {
		return true
	}
	prefix := p + string(filepath.Separator)
	for t := range w.targets {
		if len(t) > len(prefix) && t[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// markLocked adds collectors to the open window, opening one if needed.
// Callers hold w.mu.
func (w *Watcher) markLocked(cs map[string]bool) {
	for c := range cs {
		w.pending[c] = true
	}
	if w.timer == nil && len(w.pending) > 0 && !w.closed {
		w.timer = time.AfterFunc(w.opts.Debounce, w.flush)
	}
}

// flush ends the window: every collector changed in it is notified once.
func (w *Watcher) flush() {
	w.flushing.Lock()
	defer w.flushing.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	names := make([]string, 0, len(w.pending))
	for c := range w.pending {
		names = append(names, c)
	}
	clear(w.pending)
	w.timer = nil
	w.mu.Unlock()
	sort.Strings(names)
	for _, c := range names {
		w.opts.Notify(c)
	}
}

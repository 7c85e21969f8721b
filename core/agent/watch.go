package agent

import (
	"github.com/towerd/towerd/core/watch"
	"github.com/towerd/towerd/sdk"
)

// startWatcher creates the core's one file watcher: a change of a path a
// collector watches asks the scheduler for a collect now (Trigger
// coalesces: at most one collect pending behind a running one). Without
// inotify the agent runs on intervals alone.
func (a *Agent) startWatcher() *watch.Watcher {
	w, err := watch.New(watch.Options{
		Root:   a.opts.Root,
		Notify: a.sched.Trigger,
		Logger: a.log.Named("watch"),
	})
	if err != nil {
		a.log.Warn("state files are not watched; changes show at the next interval", "error", err)
		return nil
	}
	return w
}

// watchCollector arms the watcher for the paths a collector declared when
// it became ready (it may declare others after an upgrade).
func (a *Agent) watchCollector(name string, info sdk.Info) {
	if a.watch == nil {
		return
	}
	if err := a.watch.Set(name, info.WatchPaths); err != nil {
		a.log.Warn("watch paths refused", "collector", name, "error", err)
	}
}

// unwatchCollector stops watching for a disabled collector.
func (a *Agent) unwatchCollector(name string) {
	if a.watch != nil {
		_ = a.watch.Set(name, nil)
	}
}

// stopWatcher ends the watcher before the scheduler stops.
func (a *Agent) stopWatcher() {
	if a.watch != nil {
		_ = a.watch.Close()
	}
}

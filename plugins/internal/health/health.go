// Package health tracks whether the sources a plugin reads (a file, a
// daemon, a tool) work, and logs only the changes: a plugin reports on
// every collect, the log sees one line per outage and one per recovery.
package health

import "github.com/hashicorp/go-hclog"

// Source logs the state of a source once per change: the first failure and
// every change of reason at Warn, the recovery at Info. Plugins call Report
// on every collect; the log only sees state changes.
type Source struct {
	Log  hclog.Logger
	Name string // what is reported on, e.g. "var.ini", "docker"
	last string
	seen bool
}

// Report records the outcome of reading the source (nil = fine) and logs
// when it differs from the previous outcome. It returns true when it logged.
func (h *Source) Report(err error) bool {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if h.seen && msg == h.last {
		return false
	}
	first := !h.seen
	h.seen, h.last = true, msg
	if h.Log == nil {
		return true
	}
	switch {
	case err != nil:
		h.Log.Warn("source unavailable", "source", h.Name, "error", msg)
	case !first:
		h.Log.Info("source available again", "source", h.Name)
	default:
		return false
	}
	return true
}

// Last is the error text of the latest report, "" when it succeeded.
func (h *Source) Last() string { return h.last }

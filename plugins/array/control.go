package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/towerd/towerd/plugins/internal/emhttpd"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// control starts or stops the array, or clears the disk statistics,
// through emhttpd as the webGUI does: cmdStart=Start with
// startState=STOPPED, cmdStop=Stop with startState=STARTED (emhttpd checks
// startState against its own state), clearStatistics=true. Start and stop
// fall back to /proc/mdcmd where there is no socket; clearing has no such
// fallback. The array must be in the state the action starts from (409
// otherwise).
func (c *collector) control(ctx context.Context, a sdk.Action) (string, error) {
	for k, v := range a.Params {
		// Home Assistant sends {"confirm":true} with clear-disk-stats.
		if k != "confirm" || a.Name != ActClearDiskStats || (v != "true" && v != "false") {
			return "", fmt.Errorf("parameter %q not accepted by %s: %w", k, a.Name, sdk.ErrInvalidArgument)
		}
	}
	v, err := unraid.ReadVar(c.root)
	if err != nil {
		return "", fmt.Errorf("read array state: %v: %w", err, sdk.ErrUnavailable)
	}
	var params url.Values
	var mdcmd, done string
	switch a.Name {
	case ActArrayStart:
		if v.MdState != "STOPPED" {
			return "", fmt.Errorf("array is %s, not STOPPED: %w", v.MdState, sdk.ErrConflict)
		}
		params, mdcmd, done = url.Values{"cmdStart": {"Start"}, "startState": {v.MdState}}, "start", "Array start requested"
	case ActArrayStop:
		if v.MdState != "STARTED" {
			return "", fmt.Errorf("array is %s, not STARTED: %w", v.MdState, sdk.ErrConflict)
		}
		params, mdcmd, done = url.Values{"cmdStop": {"Stop"}, "startState": {v.MdState}}, "stop", "Array stop requested"
	case ActClearDiskStats:
		params, done = url.Values{"clearStatistics": {"true"}}, "Disk statistics cleared"
	}
	if emhttpd.Available(c.root) {
		if err := emhttpd.Send(ctx, c.root, params); err != nil {
			return "", err
		}
		c.log.Info("array command sent to emhttpd", "action", a.Name)
		return done, nil
	}
	if mdcmd == "" || !emhttpd.HasMdCmd(c.root) {
		return "", fmt.Errorf("array control unavailable: emhttpd socket not found at %s: %w", unraid.Join(c.root, emhttpd.Socket), sdk.ErrUnavailable)
	}
	if err := emhttpd.WriteMdCmd(c.root, mdcmd); err != nil {
		return "", err
	}
	c.log.Info("array command written to mdcmd (no emhttpd socket)", "command", mdcmd)
	return done + " (through /proc/mdcmd: no emhttpd socket)", nil
}

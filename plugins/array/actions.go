package main

import (
	"context"
	"fmt"

	"github.com/towerd/towerd/plugins/internal/emhttpd"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// Parity check actions. The core maps POST /array/parity-check/{verb} to
// Act{Name: "parity-check-<verb>"}; start takes Params["correcting"]
// ("true"/"false", default false).
const (
	ActParityStart  = "parity-check-start"
	ActParityStop   = "parity-check-stop"
	ActParityPause  = "parity-check-pause"
	ActParityResume = "parity-check-resume"
)

// Array actions (POST /array/start, /array/stop, /array/clear-disk-stats),
// sent to emhttpd (control.go).
const (
	ActArrayStart     = "array-start"
	ActArrayStop      = "array-stop"
	ActClearDiskStats = "clear-disk-stats"
)

func actionNames() []string {
	return []string{ActParityStart, ActParityStop, ActParityPause, ActParityResume, ActArrayStart, ActArrayStop, ActClearDiskStats}
}

// Act sends a parity command to the md driver by writing it to
// <root>/proc/mdcmd, after checking the array is in a state where the
// command makes sense.
func (c *collector) Act(ctx context.Context, a sdk.Action) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if a.Target != "" && a.Target != "array" {
		return "", fmt.Errorf("target %q: the array has no sub-targets: %w", a.Target, sdk.ErrInvalidArgument)
	}
	switch a.Name {
	case ActArrayStart, ActArrayStop, ActClearDiskStats:
		return c.control(ctx, a)
	}
	correcting := false
	for k, val := range a.Params {
		if k != "correcting" || a.Name != ActParityStart {
			return "", fmt.Errorf("parameter %q not accepted by %s: %w", k, a.Name, sdk.ErrInvalidArgument)
		}
		switch val {
		case "true", "1":
			correcting = true
		case "false", "0", "":
		default:
			return "", fmt.Errorf("correcting=%q: want true or false: %w", val, sdk.ErrInvalidArgument)
		}
	}
	switch a.Name {
	case ActParityStart, ActParityStop, ActParityPause, ActParityResume:
	default:
		return "", fmt.Errorf("action %q: %w", a.Name, sdk.ErrUnsupported)
	}
	v, err := unraid.ReadVar(c.root)
	if err != nil {
		return "", fmt.Errorf("read array state: %v: %w", err, sdk.ErrUnavailable)
	}
	st := parity(v).status
	var cmd, done string
	switch a.Name {
	case ActParityStart:
		if v.MdState != "STARTED" {
			return "", fmt.Errorf("array is %s, not STARTED: %w", v.MdState, sdk.ErrConflict)
		}
		if st != "idle" {
			return "", fmt.Errorf("a parity operation is already %s: %w", st, sdk.ErrConflict)
		}
		cmd, done = "check NOCORRECT", "parity check started (non-correcting)"
		if correcting {
			cmd, done = "check CORRECT", "parity check started (correcting)"
		}
	case ActParityStop:
		if st == "idle" {
			return "", fmt.Errorf("no parity operation is running: %w", sdk.ErrConflict)
		}
		cmd, done = "nocheck", "parity operation cancelled"
	case ActParityPause:
		if st == "idle" || st == "paused" {
			return "", fmt.Errorf("parity operation is %s, nothing to pause: %w", st, sdk.ErrConflict)
		}
		cmd, done = "pause", "parity operation paused"
	case ActParityResume:
		if st != "paused" {
			return "", fmt.Errorf("parity operation is %s, not paused: %w", st, sdk.ErrConflict)
		}
		cmd, done = "resume", "parity operation resumed"
	}
	if err := emhttpd.WriteMdCmd(c.root, cmd); err != nil {
		return "", err
	}
	c.log.Info("parity command sent", "command", cmd)
	return done, nil
}

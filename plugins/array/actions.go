package main

import (
	"context"
	"errors"
	"fmt"
	"os"

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

func actionNames() []string {
	return []string{ActParityStart, ActParityStop, ActParityPause, ActParityResume}
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
	if err := writeMdCmd(unraid.Join(c.root, unraid.MdCmd), cmd); err != nil {
		return "", err
	}
	c.log.Info("parity command sent", "command", cmd)
	return done, nil
}

// writeMdCmd writes one command line to the md driver's command file. It
// never creates the file: without it this is not an Unraid host.
func writeMdCmd(path, cmd string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s missing (not an Unraid host): %w", path, sdk.ErrUnavailable)
		}
		return fmt.Errorf("open %s: %v: %w", path, err, sdk.ErrUnavailable)
	}
	_, werr := f.WriteString(cmd + "\n")
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write %q to %s: %w", cmd, path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("write %q to %s: %w", cmd, path, cerr)
	}
	return nil
}

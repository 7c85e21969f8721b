package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/towerd/towerd/sdk"
)

// actions maps an action name to the Engine API call that performs it.
var actions = map[string]func(ctx context.Context, cli *client.Client, id string, p map[string]string) error{
	"start": func(ctx context.Context, cli *client.Client, id string, _ map[string]string) error {
		_, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
		return err
	},
	"stop": func(ctx context.Context, cli *client.Client, id string, p map[string]string) error {
		_, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: timeoutParam(p)})
		return err
	},
	"restart": func(ctx context.Context, cli *client.Client, id string, p map[string]string) error {
		_, err := cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: timeoutParam(p)})
		return err
	},
	"pause": func(ctx context.Context, cli *client.Client, id string, _ map[string]string) error {
		_, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	},
	"unpause": func(ctx context.Context, cli *client.Client, id string, _ map[string]string) error {
		_, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	},
}

// actionNames lists the actions in the order Describe reports them.
func actionNames() []string {
	return []string{"start", "stop", "restart", "pause", "unpause", "autostart", "remove"}
}

// containerRef accepts what the REST API may pass as {id}: a container ID
// (12 or 64 lower-case hex digits; any hex prefix is also a valid name) or
// a container name as Docker allows it.
var containerRef = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

func validContainerRef(s string) bool { return containerRef.MatchString(s) }

// timeoutParam reads the optional "timeout" parameter (seconds, 0-600) of
// stop and restart; anything else means the container's own stop timeout.
func timeoutParam(p map[string]string) *int {
	n, err := strconv.Atoi(p["timeout"])
	if err != nil || n < 0 || n > 600 {
		return nil
	}
	return &n
}

// Act runs a control action on one container. The action and the target
// are checked before anything is sent to the daemon.
func (c *collector) Act(ctx context.Context, a sdk.Action) (string, error) {
	do, ok := actions[a.Name]
	manage := a.Name == "autostart" || a.Name == "remove"
	if !ok && !manage {
		return "", fmt.Errorf("%w: docker action %q (want one of %v)", sdk.ErrUnsupported, a.Name, actionNames())
	}
	if !validContainerRef(a.Target) {
		return "", fmt.Errorf("%w: container id %q: want 12 or 64 hex digits or a container name", sdk.ErrInvalidArgument, a.Target)
	}
	if manage {
		if err := checkManageParams(a); err != nil {
			return "", err
		}
	} else if t, ok := a.Params["timeout"]; ok && timeoutParam(a.Params) == nil {
		return "", fmt.Errorf("%w: timeout %q: want 0-600 seconds", sdk.ErrInvalidArgument, t)
	}
	c.mu.Lock()
	cli, err := c.clientLocked()
	c.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("%w: %v", sdk.ErrUnavailable, err)
	}
	switch a.Name {
	case "autostart":
		return c.setAutostart(ctx, cli, a)
	case "remove":
		return c.remove(ctx, cli, a)
	}
	if err := do(ctx, cli, a.Target, a.Params); err != nil {
		return "", classify(a, err)
	}
	return fmt.Sprintf("container %s: %s done", a.Target, a.Name), nil
}

// classify maps an Engine API error to the SDK error kinds.
func classify(a sdk.Action, err error) error {
	var kind error
	switch {
	case cerrdefs.IsNotFound(err):
		kind = sdk.ErrNotFound
	case cerrdefs.IsConflict(err), cerrdefs.IsFailedPrecondition(err):
		kind = sdk.ErrConflict
	case cerrdefs.IsInvalidArgument(err):
		kind = sdk.ErrInvalidArgument
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		kind = sdk.ErrUnavailable
	case wrongState(err):
		// Older engines (20.10) answer 500 for these.
		kind = sdk.ErrConflict
	default:
		return fmt.Errorf("docker %s %s: %w", a.Name, a.Target, err)
	}
	return fmt.Errorf("%w: docker %s %s: %v", kind, a.Name, a.Target, err)
}

// wrongState recognises the engine's answers to an action that does not fit
// the container's state ("is not paused", "is already paused", "is not
// running", "is paused", "is restarting").
func wrongState(err error) bool {
	m := err.Error()
	for _, s := range []string{"is not paused", "is already paused", "is not running", "is paused", "is restarting"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/towerd/towerd/internal/atomicfile"
	"github.com/towerd/towerd/sdk"
)

// removeTimeout bounds a container removal (and its image's).
const removeTimeout = 30 * time.Second

// boolParam reads a true/false parameter; ok is false for anything else.
func boolParam(p map[string]string, key string) (val, present, ok bool) {
	s, present := p[key]
	if !present {
		return false, false, true
	}
	b, err := strconv.ParseBool(s)
	return b, true, err == nil
}

// checkManageParams validates the parameters of autostart and remove
// before anything is sent.
func checkManageParams(a sdk.Action) error {
	switch a.Name {
	case "autostart":
		_, present, ok := boolParam(a.Params, "enabled")
		if !present || !ok {
			return fmt.Errorf(`%w: autostart needs {"enabled": true|false}`, sdk.ErrInvalidArgument)
		}
		if _, _, ok := boolParam(a.Params, "confirm"); !ok {
			return fmt.Errorf("%w: confirm must be true or false", sdk.ErrInvalidArgument)
		}
	case "remove":
		if c, _, ok := boolParam(a.Params, "confirm"); !ok || !c {
			return fmt.Errorf("%w: confirm must be set to true to remove a container", sdk.ErrInvalidArgument)
		}
		if _, _, ok := boolParam(a.Params, "remove_image"); !ok {
			return fmt.Errorf("%w: remove_image must be true or false", sdk.ErrInvalidArgument)
		}
	}
	for k := range a.Params {
		switch {
		case k == "confirm", a.Name == "autostart" && k == "enabled", a.Name == "remove" && k == "remove_image":
		default:
			return fmt.Errorf("%w: parameter %q not accepted by %s", sdk.ErrInvalidArgument, k, a.Name)
		}
	}
	return nil
}

// containerName resolves an id or name to the container's name, as the
// autostart file holds it.
func containerName(ctx context.Context, cli *client.Client, ref string) (string, string, error) {
	ins, err := cli.ContainerInspect(ctx, ref, client.ContainerInspectOptions{})
	if err != nil {
		return "", "", err
	}
	image := ""
	if ins.Container.Config != nil {
		image = ins.Container.Config.Image
	}
	return strings.TrimPrefix(ins.Container.Name, "/"), image, nil
}

// setAutostart adds the container to Unraid's autostart list (at the end:
// the file's order is the start order) or removes its line; every other
// line is kept as it was. The file is replaced atomically.
func (c *collector) setAutostart(ctx context.Context, cli *client.Client, a sdk.Action) (string, error) {
	enable, _, _ := boolParam(a.Params, "enabled")
	name, _, err := containerName(ctx, cli, a.Target)
	if err != nil {
		return "", classify(a, err)
	}
	c.mu.Lock()
	root := c.root
	c.mu.Unlock()
	if root == "" {
		root = "/"
	}
	path := filepath.Join(root, autostartFile)
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%w: %s does not exist (not an Unraid host with Docker enabled)", sdk.ErrUnavailable, filepath.Dir(path))
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	updated, changed := editAutostart(old, name, enable)
	verb := map[bool]string{true: "enabled", false: "disabled"}[enable]
	msg := fmt.Sprintf("Autostart %s for container %s", verb, name)
	if !changed {
		return msg, nil
	}
	if err := atomicfile.Write(path, updated, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	c.log.Info("autostart changed", "container", name, "enabled", enable)
	return msg, nil
}

// editAutostart returns the unraid-autostart content with name added at
// the end or its line(s) removed; changed is false when nothing changes.
func editAutostart(old []byte, name string, enable bool) ([]byte, bool) {
	var lines []string
	if len(old) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(old), "\n"), "\n")
	}
	out := lines[:0:0]
	found := false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == name {
			found = true
			if !enable {
				continue
			}
		}
		out = append(out, l)
	}
	if enable == found {
		return old, false
	}
	if enable {
		out = append(out, name)
	}
	if len(out) == 0 {
		return []byte{}, true
	}
	return []byte(strings.Join(out, "\n") + "\n"), true
}

// remove force-removes a container (a running one is killed) and, with
// remove_image, then its image; a failed image removal is only logged,
// the container is gone either way.
func (c *collector) remove(ctx context.Context, cli *client.Client, a sdk.Action) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, removeTimeout)
	defer cancel()
	name, image, err := containerName(ctx, cli, a.Target)
	if err != nil {
		return "", classify(a, err)
	}
	if _, err := cli.ContainerRemove(ctx, a.Target, client.ContainerRemoveOptions{Force: true}); err != nil {
		return "", classify(a, err)
	}
	c.log.Info("container removed", "container", name)
	msg := "Container " + name + " removed"
	if rm, _, _ := boolParam(a.Params, "remove_image"); rm && image != "" {
		if _, err := cli.ImageRemove(ctx, image, client.ImageRemoveOptions{}); err != nil {
			c.log.Warn("image not removed", "image", image, "error", err)
			msg += "; image " + image + " not removed: " + err.Error()
		} else {
			msg += " with image " + image
		}
	}
	return msg, nil
}

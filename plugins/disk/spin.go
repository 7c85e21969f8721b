package main

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/towerd/towerd/plugins/internal/emhttpd"
	"github.com/towerd/towerd/plugins/internal/unraid"
	"github.com/towerd/towerd/sdk"
)

// Spin actions (POST /disks/{id}/spinup|spindown).
const (
	ActSpinUp   = "spinup"
	ActSpinDown = "spindown"
)

// diskRef is what may name a disk: a slot name (disk1, parity, cache, a
// pool member such as fast_cache2) or a device (sdb, nvme0n1).
var diskRef = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Act spins one disk up or down. {id} is matched against the disks.ini
// slots' name, section and device, and the command names the slot as
// emhttpd knows it. emhttpd gets cmdSpinup=<name> / cmdSpindown=<name>
// with startState=<mdState>; without its socket the command is written to
// /proc/mdcmd, which Unraid 7.3 refuses for spinning.
func (c *collector) Act(ctx context.Context, a sdk.Action) (string, error) {
	var emCmd, mdVerb, done string
	switch a.Name {
	case ActSpinUp:
		emCmd, mdVerb, done = "cmdSpinup", "spinup", "spin up"
	case ActSpinDown:
		emCmd, mdVerb, done = "cmdSpindown", "spindown", "spin down"
	default:
		return "", fmt.Errorf("%w: disk action %q (want spinup or spindown)", sdk.ErrUnsupported, a.Name)
	}
	if !diskRef.MatchString(a.Target) {
		return "", fmt.Errorf("%w: disk id %q: a slot name such as disk1, parity or cache, or a device such as sdb", sdk.ErrInvalidArgument, a.Target)
	}
	for k := range a.Params {
		return "", fmt.Errorf("%w: parameter %q not accepted by %s", sdk.ErrInvalidArgument, k, a.Name)
	}
	slots, err := unraid.ReadDisks(c.root)
	if err != nil {
		return "", fmt.Errorf("read %s: %v: %w", unraid.DisksIni, err, sdk.ErrUnavailable)
	}
	var slot *unraid.Slot
	for i, s := range slots {
		if !s.Empty() && (s.Name == a.Target || s.Section == a.Target || (s.Device != "" && s.Device == a.Target)) {
			slot = &slots[i]
			break
		}
	}
	if slot == nil {
		return "", fmt.Errorf("%w: no disk %q in %s", sdk.ErrNotFound, a.Target, unraid.DisksIni)
	}
	name := slot.Name
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' }) {
		return "", fmt.Errorf("%w: disk slot name %q cannot be sent to emhttpd", sdk.ErrInvalidArgument, name)
	}
	if slot.Type == "Flash" {
		return "", fmt.Errorf("%w: the flash drive does not spin", sdk.ErrConflict)
	}
	if emhttpd.Available(c.root) {
		params := url.Values{emCmd: {name}}
		v, err := unraid.ReadVar(c.root)
		switch {
		case err == nil && v.MdState != "":
			params.Set("startState", v.MdState)
		default:
			c.log.Warn("no mdState in var.ini; sending the spin command without startState", "disk", name)
		}
		if err := emhttpd.Send(ctx, c.root, params); err != nil {
			return "", err
		}
		c.log.Info("spin command sent to emhttpd", "disk", name, "command", emCmd)
		return fmt.Sprintf("%s: %s requested", name, done), nil
	}
	if !emhttpd.HasMdCmd(c.root) {
		return "", fmt.Errorf("%w: no emhttpd socket at %s and no %s: cannot spin disks on this host",
			sdk.ErrUnavailable, unraid.Join(c.root, emhttpd.Socket), unraid.Join(c.root, unraid.MdCmd))
	}
	if err := emhttpd.WriteMdCmd(c.root, mdVerb+" "+name); err != nil {
		return "", fmt.Errorf("%w (no emhttpd socket, so /proc/mdcmd was used; Unraid 7.3 and later refuse spin commands there with \"invalid argument\" and need emhttpd)", err)
	}
	c.log.Info("spin command written to mdcmd (no emhttpd socket)", "disk", name)
	return fmt.Sprintf("%s: %s requested through /proc/mdcmd (no emhttpd socket; Unraid 7.3 and later refuse this)", name, done), nil
}

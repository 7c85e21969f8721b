package main

import (
	"context"
	"fmt"
	"regexp"

	"libvirt.org/go/libvirt"

	"github.com/towerd/towerd/sdk"
)

// actions maps an action name to the libvirt call that performs it.
var actions = map[string]func(d *libvirt.Domain) error{
	"start":      func(d *libvirt.Domain) error { return d.Create() },
	"stop":       func(d *libvirt.Domain) error { return d.Shutdown() }, // ACPI power button by default
	"force-stop": func(d *libvirt.Domain) error { return d.Destroy() },
	"restart":    func(d *libvirt.Domain) error { return d.Reboot(0) },
	"pause":      func(d *libvirt.Domain) error { return d.Suspend() },
	"resume":     func(d *libvirt.Domain) error { return d.Resume() },
	"hibernate":  func(d *libvirt.Domain) error { return d.ManagedSave(0) },
	"reset":      func(d *libvirt.Domain) error { return d.Reset(0) },
}

func actionNames() []string {
	return []string{"start", "stop", "force-stop", "restart", "pause", "resume", "hibernate", "reset"}
}

// vmName is a valid VM name: letters, digits, space, _ . -; 1-253
// characters; not starting or ending with - or . (rest-api.md).
var vmName = regexp.MustCompile(`^[A-Za-z0-9_ ]([A-Za-z0-9_ .-]{0,251}[A-Za-z0-9_ ])?$`)

func validVMName(s string) bool { return vmName.MatchString(s) }

// vmUUID is a domain UUID as the vm payload's id shows it (with dashes)
// or as the reference agent sent it (32 hex digits). Home Assistant's
// buttons post the id, its switch the name.
var vmUUID = regexp.MustCompile(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32})$`)

// lookup finds a domain by UUID when the target looks like one (then by
// name, should a VM be named like a UUID), else by name.
func lookup(conn *libvirt.Connect, target string) (*libvirt.Domain, error) {
	if vmUUID.MatchString(target) {
		d, err := conn.LookupDomainByUUIDString(target)
		if code, ok := libvirtCode(err); err == nil || !ok || code != libvirt.ERR_NO_DOMAIN {
			return d, err
		}
	}
	return conn.LookupDomainByName(target)
}

// Act runs a control action on the domain a.Target names or whose UUID it
// is. The action and
// name are checked before libvirt is asked anything; reset needs
// confirm=true.
func (c *collector) Act(_ context.Context, a sdk.Action) (string, error) {
	do, ok := actions[a.Name]
	if !ok {
		return "", fmt.Errorf("%w: VM action %q (want one of %v)", sdk.ErrUnsupported, a.Name, actionNames())
	}
	if !validVMName(a.Target) {
		return "", fmt.Errorf("%w: VM name or UUID %q: letters, digits, space, _ . - (1-253), not starting or ending with - or .", sdk.ErrInvalidArgument, a.Target)
	}
	if a.Name == "reset" && a.Params["confirm"] != "true" {
		return "", fmt.Errorf("%w: reset needs confirm=true", sdk.ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, err := c.connLocked()
	if err != nil {
		return "", fmt.Errorf("%w: %v", sdk.ErrUnavailable, err)
	}
	d, err := lookup(conn, a.Target)
	if err != nil {
		return "", classify(a, err)
	}
	defer d.Free()
	if err := checkState(d, a.Name); err != nil {
		return "", fmt.Errorf("VM %s %q: %w", a.Name, a.Target, err)
	}
	if err := do(d); err != nil {
		return "", classify(a, err)
	}
	return fmt.Sprintf("VM %s: %s done", a.Target, a.Name), nil
}

// classify maps a libvirt error to the SDK error kinds.
func classify(a sdk.Action, err error) error {
	kind := sdk.ErrUnavailable
	if code, ok := libvirtCode(err); ok {
		switch code {
		case libvirt.ERR_NO_DOMAIN:
			kind = sdk.ErrNotFound
		case libvirt.ERR_OPERATION_INVALID:
			kind = sdk.ErrConflict
		case libvirt.ERR_NO_SUPPORT, libvirt.ERR_ARGUMENT_UNSUPPORTED:
			kind = sdk.ErrUnsupported
		case libvirt.ERR_INVALID_ARG:
			kind = sdk.ErrInvalidArgument
		case libvirt.ERR_NO_CONNECT, libvirt.ERR_INVALID_CONN, libvirt.ERR_RPC, libvirt.ERR_SYSTEM_ERROR:
			kind = sdk.ErrUnavailable
		default:
			return fmt.Errorf("VM %s %q: %w", a.Name, a.Target, err)
		}
	}
	return fmt.Errorf("%w: VM %s %q: %v", kind, a.Name, a.Target, err)
}

// checkState refuses an action the domain's state does not allow, the same
// way for every hypervisor driver (some answer these with an internal
// error rather than "operation invalid").
func checkState(d *libvirt.Domain, action string) error {
	st, _, err := d.GetState()
	if err != nil {
		return nil // let the action itself report the problem
	}
	active := st != libvirt.DOMAIN_SHUTOFF && st != libvirt.DOMAIN_CRASHED && st != libvirt.DOMAIN_NOSTATE
	ok := true
	switch action {
	case "start":
		ok = !active
	case "pause":
		ok = active && st != libvirt.DOMAIN_PAUSED
	case "resume":
		ok = st == libvirt.DOMAIN_PAUSED
	default: // stop, force-stop, restart, hibernate, reset
		ok = active
	}
	if !ok {
		return fmt.Errorf("%w: the VM is %s", sdk.ErrConflict, stateName(st))
	}
	return nil
}

//go:build !linux

package supervisor

import "syscall"

// procAttr starts a plugin as the leader of its own process group. Only
// Linux can tie a child's life to the core's (Pdeathsig); elsewhere the
// core's start-up sweep (KillLeftovers) removes orphans.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// awaitExit returns at once: the Wait that follows blocks a thread.
func awaitExit(int) {}

package supervisor

import "syscall"

// procAttr starts a plugin as the leader of its own process group (so the
// group can be killed as one) and asks the kernel to SIGKILL it when the
// core dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

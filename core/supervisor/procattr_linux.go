package supervisor

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr starts a plugin as the leader of its own process group (so the
// group can be killed as one) and asks the kernel to SIGKILL it when the
// core dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// awaitExit parks the calling goroutine on the network poller until the
// process pid has exited (its pidfd turns readable), so that the Wait
// which follows returns at once. Without it every running plugin holds
// one of the core's OS threads blocked in waitid for its whole life.
// Where pidfds are not available it returns at once and Wait blocks as
// before.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	polled := false
	_ = rc.Read(func(uintptr) bool {
		done := polled
		polled = true
		return done
	})
}

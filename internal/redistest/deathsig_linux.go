package redistest

import "syscall"

// parentDeathSignal kills the child server when the test binary exits.
func parentDeathSignal() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// Package childproc holds what the test harnesses need to start servers as
// child processes that never outlive the test binary.
package childproc

import "syscall"

// DieWithParent is the process attribute that kills the child when the
// process that started it exits, so a crashed test leaves no server behind.
func DieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

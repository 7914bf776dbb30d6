//go:build !linux

package childproc

import "syscall"

// DieWithParent has no portable equivalent here; a child outlives a crashed
// test binary and must be stopped by hand.
func DieWithParent() *syscall.SysProcAttr { return nil }

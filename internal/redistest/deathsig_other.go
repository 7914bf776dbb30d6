//go:build !linux

package redistest

import "syscall"

// parentDeathSignal has no portable equivalent; the server outlives the
// test binary and must be stopped by hand.
func parentDeathSignal() *syscall.SysProcAttr { return nil }

//go:build unix

package pki

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockFile holds an exclusive lock on the authority's index across
// processes: egovctl up (its hourly CRL), a replay issuing keys for the
// corpus's signers and a load test preparing citizens may share one
// authority directory.
func lockFile(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, indexFile+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

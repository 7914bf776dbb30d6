//go:build !unix

package pki

// lockFile is the in-process lock alone where flock is not available.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }

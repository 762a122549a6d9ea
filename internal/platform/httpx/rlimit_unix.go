//go:build unix

package httpx

import "syscall"

// fileLimit returns the process's limit on open files, or 0 when unknown.
func fileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

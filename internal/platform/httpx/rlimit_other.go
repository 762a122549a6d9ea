//go:build !unix

package httpx

// fileLimit returns 0: the limit is not known on this system.
func fileLimit() uint64 { return 0 }

// Package devtools finds the development tools `make tools` installs, for
// the local stack and the integration tests.
package devtools

import (
	"os"
	"os/exec"
	"path/filepath"
)

// JaegerBinary returns the path of the Jaeger all-in-one binary, on PATH or
// in $GOPATH/bin, or "" when it is not installed.
func JaegerBinary(getenv func(string) string) string {
	if p, err := exec.LookPath("all-in-one"); err == nil {
		return p
	}
	gopath := getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "all-in-one")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

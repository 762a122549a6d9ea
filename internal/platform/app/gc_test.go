package app

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestGCSettings(t *testing.T) {
	// The settings are the process's: put back what the test found.
	was := debug.SetGCPercent(100)
	wasLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(was); debug.SetMemoryLimit(wasLimit) })

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if p, l := gcSettings(getenv); p != "400 (default)" || l != "256MiB (default)" {
		t.Errorf("defaults reported as %q, %q", p, l)
	}
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, defaultMemoryLimit)
	}

	// An operator's choice, either of the two, is left to the runtime.
	debug.SetMemoryLimit(math.MaxInt64)
	env["GOGC"] = "200"
	if p, l := gcSettings(getenv); p != "200" || l != "none" {
		t.Errorf("with GOGC=200 reported %q, %q", p, l)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the GC percent was changed to %d", got)
	}
	env = map[string]string{"GOMEMLIMIT": "1GiB"}
	if p, l := gcSettings(getenv); p != "100" || l != "1GiB" {
		t.Errorf("with GOMEMLIMIT=1GiB reported %q, %q", p, l)
	}
}

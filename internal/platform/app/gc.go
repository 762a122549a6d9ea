package app

import (
	"runtime/debug"
)

// Garbage collector defaults for a service whose environment sets neither
// GOGC nor GOMEMLIMIT. A service's live heap is a few megabytes (a sale's
// winners, pools, buffers), so at Go's default the collector runs each
// time a few megabytes are allocated: at full load on the seckill endpoint,
// a dozen collections a second, which cost about a sixth of its throughput.
// Letting the heap grow to five times the live data collects a quarter as
// often; the memory limit keeps that growth bounded, and the collector
// works harder instead as the heap nears it.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 256 << 20
)

// gcSettings applies the defaults above where the environment has not
// chosen, and returns what the collector runs with, for the start-up line.
func gcSettings(getenv func(string) string) (gcPercent string, memoryLimit string) {
	gcPercent, memoryLimit = getenv("GOGC"), getenv("GOMEMLIMIT")
	if gcPercent == "" && memoryLimit == "" {
		debug.SetGCPercent(defaultGCPercent)
		debug.SetMemoryLimit(defaultMemoryLimit)
		return "400 (default)", "256MiB (default)"
	}
	if gcPercent == "" {
		gcPercent = "100"
	}
	if memoryLimit == "" {
		memoryLimit = "none"
	}
	return gcPercent, memoryLimit
}

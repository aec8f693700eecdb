package plugin

import (
	"os"
	"runtime/debug"
)

// gcPercent is the plugin's GOGC unless the environment sets one: its heap
// is mostly the fixed buffers of one archive or extraction at a time, so a
// collection is cheap and a lower percentage keeps the peak near them.
const gcPercent = 50

// tuneGC applies gcPercent when GOGC is not set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// releaseMemory returns to the system what a finished create, upload or
// extraction used (some tens of MiB of buffers), so that an idle plugin
// stays small and the next operation starts from there. One forced
// collection per operation: the host runs them one at a time.
func releaseMemory() { debug.FreeOSMemory() }

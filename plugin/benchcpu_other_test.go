//go:build !unix

package plugin_test

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }

// syncAll does nothing where sync(2) is not at hand.
func syncAll() {}

//go:build unix && !linux

package host

import "errors"

// parentOf has no /proc to read here: it always fails, so dropStale never
// kills a handed-over plugin it could not reattach, as it cannot prove the
// PID is still its child's; that plugin is left running.
func parentOf(int) (int, error) {
	return 0, errors.New("parent PID: no /proc on this platform")
}

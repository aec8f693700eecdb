//go:build unix

package host

import (
	"fmt"
	"os"
	"syscall"
)

// ExecSelf replaces the process with a fresh run of the same executable:
// same PID, same arguments, same environment.
func ExecSelf() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find executable: %w", err)
	}
	return syscall.Exec(exe, os.Args, os.Environ())
}

package host

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the checker if the app dies first, so a
// crashed app leaves no checker behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package storage_test

import (
	"os/exec"
	"syscall"
)

// setEmulatorProcAttr has the kernel kill an emulator when the test binary
// dies without running TestMain's cleanup (a timeout, a panic).
func setEmulatorProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

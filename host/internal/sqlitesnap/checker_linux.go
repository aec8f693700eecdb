package sqlitesnap

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"syscall"
)

// dieWithParent has the kernel kill the checker if the app dies first, so a
// crashed app leaves no checker behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// limitMemory caps the checker's address space (RLIMIT_AS, soft and hard)
// at what it has mapped now plus budget bytes: a hard limit the kernel
// enforces on every allocation, SQLite's (which does not go through the
// Go heap) included. SQLite answers SQLITE_NOMEM past it, and the Go
// runtime dies. Measuring from the current size makes the budget mean the
// same whatever the runtime reserved at start (the race detector reserves
// much more). The Go heap is also given budget as its soft limit, so that
// the collector works harder before the hard limit is reached.
func limitMemory(budget int64) error {
	mapped, err := mappedBytes()
	if err != nil {
		return err
	}
	limit := uint64(mapped + budget)
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		return fmt.Errorf("setrlimit RLIMIT_AS: %w", err)
	}
	debug.SetMemoryLimit(budget)
	return nil
}

// mappedBytes is the process's virtual memory size (VmSize).
func mappedBytes() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmSize:")); ok {
			kib, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmSize %q: %w", rest, err)
			}
			return kib << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}

//go:build !linux

package sqlitesnap

import (
	"os/exec"
	"runtime/debug"
)

// dieWithParent does nothing here: without Linux's parent-death signal a
// checker whose app died finishes its check and exits on its own.
func dieWithParent(*exec.Cmd) {}

// limitMemory sets budget as the Go heap's soft limit. Without a portable
// way to measure the address space to cap, SQLite's allocations are bounded
// here only by the checker's capped page cache and its timeout.
func limitMemory(budget int64) error {
	debug.SetMemoryLimit(budget)
	return nil
}

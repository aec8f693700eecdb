//go:build !linux

package archive

import "os"

// fsSyncer is Linux's: elsewhere each file and directory is fsynced.
type fsSyncer struct{}

func newFSSyncer(*os.Root, bool) *fsSyncer { return nil }
func (*fsSyncer) sync() error              { return nil }
func (*fsSyncer) close() error             { return nil }

// kernelAtLeast is about Linux kernels: false here.
func kernelAtLeast(int, int) bool { return false }

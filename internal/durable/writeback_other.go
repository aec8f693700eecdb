//go:build !linux

package durable

import "os"

// StartWriteback does nothing where sync_file_range does not exist: the
// final fsync does all the work.
func StartWriteback(*os.File, int64, int64) {}

// WaitWriteback does nothing where sync_file_range does not exist.
func WaitWriteback(*os.File, int64, int64) {}

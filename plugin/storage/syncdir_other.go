//go:build !unix

package storage

import "os"

// syncDir does nothing on systems where package os cannot fsync a directory
// (Windows); a crash right after a commit may then lose the rename.
func syncDir(*os.Root) error { return nil }

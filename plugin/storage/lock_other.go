//go:build !unix

package storage

import "os"

// lockFile is a no-op where flock does not exist: stale temp files are
// then never removed automatically (they are never listed either).
func lockFile(*os.File) error { return errNoLocks }

var errNoLocks = errorString("file locks unsupported")

type errorString string

func (e errorString) Error() string { return string(e) }

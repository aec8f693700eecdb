//go:build unix

package host

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByEUID reports whether the file described by info belongs to this
// process's effective user.
func ownedByEUID(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// openNoFollow opens path for reading, refusing a symbolic link in its
// last element.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

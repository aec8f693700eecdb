//go:build unix

package filestamp

import (
	"io/fs"
	"syscall"
)

// devIno is the file's device and inode numbers.
func devIno(info fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true
}

//go:build !unix

package filestamp

import "io/fs"

// devIno has no inode to offer: without one no identity matches, and
// files are compared by digest.
func devIno(fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }

//go:build !linux

package storage

import "os"

// renameNoReplace renames from to to in root's directory, failing with an
// error wrapping fs.ErrExist when to exists (see linkNoReplace).
func renameNoReplace(root *os.Root, _ *os.File, from, to string) error {
	return linkNoReplace(root, from, to)
}

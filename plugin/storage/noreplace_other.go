//go:build !linux

package storage

import "errors"

// RenameNoReplace implements storeRoot: without renameat2, it is always
// unsupported and renameNoReplace falls back to linkNoReplace.
func (osRoot) RenameNoReplace(string, string) error { return errors.ErrUnsupported }

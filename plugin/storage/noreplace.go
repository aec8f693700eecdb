package storage

import "errors"

// renameNoReplace renames from to to in root's directory, failing with an
// error wrapping fs.ErrExist when to exists, atomically: renameat2 with
// RENAME_NOREPLACE. Where the system or filesystem does not support that,
// a hard link then an unlink does the same (see linkNoReplace).
func renameNoReplace(root storeRoot, from, to string) error {
	err := root.RenameNoReplace(from, to)
	if errors.Is(err, errors.ErrUnsupported) {
		return linkNoReplace(root, from, to)
	}
	return err
}

// linkNoReplace gives from the name to, then removes the name from: a hard
// link never replaces its target (EEXIST wraps fs.ErrExist). Once the link
// exists the object is in place, so a failure to remove from only leaves a
// hidden leftover for cleanup and is not reported. No fsync is needed
// between the two: the caller fsyncs the directory after both, and until
// then a crash leaves the old name, or both names (a leftover).
func linkNoReplace(root storeRoot, from, to string) error {
	if err := root.Link(from, to); err != nil {
		return err
	}
	_ = root.Remove(from)
	return nil
}

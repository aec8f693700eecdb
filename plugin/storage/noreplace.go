package storage

import "os"

// linkNoReplace gives from the name to, then removes the name from: a hard
// link never replaces its target (EEXIST wraps fs.ErrExist). Once the link
// exists the object is in place, so a failure to remove from only leaves a
// hidden leftover for cleanup and is not reported.
func linkNoReplace(root *os.Root, from, to string) error {
	if err := root.Link(from, to); err != nil {
		return err
	}
	_ = root.Remove(from)
	return nil
}

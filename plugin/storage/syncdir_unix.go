//go:build unix

package storage

import "os"

// syncDir fsyncs the directory of root, making creates, renames and removes
// in it durable.
func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

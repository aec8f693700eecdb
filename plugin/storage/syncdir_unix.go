//go:build unix

package storage

// Sync implements storeRoot: it fsyncs the directory.
func (o osRoot) Sync() error {
	d, err := o.r.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

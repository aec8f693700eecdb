package restore

import (
	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/internal/simdisk"
)

// simFS is the simulated disk of internal/simdisk seen through this
// package's fileSystem seam (see simdisk for what a power cut keeps).
type simFS struct{ *simdisk.Disk }

var _ fileSystem = (*simFS)(nil)

// newSimFS returns a disk holding files (path → contents; paths absolute,
// folders implied), all durable.
func newSimFS(files map[string]string) *simFS { return &simFS{simdisk.New(files)} }

func (s *simFS) Lstat(p string) error {
	_, err := s.Disk.Lstat(p)
	return err
}

func (s *simFS) ReadDir(dir string) ([]string, error) {
	entries, err := s.Disk.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (s *simFS) CreateTemp(dir, pattern string) (durable.File, error) {
	f, err := s.Disk.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// run calls f with the power cut after cutAfter operations and reports
// whether it was cut.
func (s *simFS) run(cutAfter int, f func()) bool { return s.Run(cutAfter, f) }

// powerCut returns the disk as the next boot finds it.
func (s *simFS) powerCut() *simFS { return &simFS{s.PowerCut()} }

// clone copies a disk with no change pending.
func (s *simFS) clone() *simFS { return &simFS{s.Clone()} }

// tree returns the files under dir and their live contents, leaving out
// the top-level names in skip.
func (s *simFS) tree(dir string, skip []string) map[string]string { return s.Tree(dir, skip) }

// unlinkTree removes the folder p with its contents at once.
func (s *simFS) unlinkTree(p string) error { return s.UnlinkTree(p) }

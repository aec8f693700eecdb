package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

// FuzzCheck feeds arbitrary bytes to Check and, when it accepts them, to
// Extract with small limits: neither may panic, both may only fail with
// ErrInvalid, Extract may create nothing outside its destination, and a
// successful Extract writes exactly the bytes Check declared.
// Seeds live in testdata/fuzz/FuzzCheck.
func FuzzCheck(f *testing.F) {
	limits := Limits{MaxEntries: 32, MaxTotalBytes: 1 << 20, MaxRatio: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, err := Check(bytes.NewReader(data), int64(len(data)), limits)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check rejected without ErrInvalid: %v", err)
			}
			return
		}
		if sum.Entries > limits.MaxEntries || sum.TotalBytes > limits.MaxTotalBytes || sum.TotalBytes < 0 {
			t.Fatalf("Check accepted beyond its limits: %+v", sum)
		}

		parent, dest := stagingDir(t)
		err = Extract(context.Background(), bytes.NewReader(data), int64(len(data)), dest, limits, nil)
		assertContained(t, parent)
		if err != nil {
			// Data that fails after the check (bad CRC, lying sizes,
			// truncated entries) must still be reported as invalid.
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Extract failed without ErrInvalid: %v", err)
			}
			return
		}
		var files int
		var written int64
		walkErr := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files++
			written += info.Size()
			return nil
		})
		if walkErr != nil {
			t.Fatal(walkErr)
		}
		if written != sum.TotalBytes || files > sum.Entries {
			t.Fatalf("Extract wrote %d files, %d bytes; Check declared %d entries, %d bytes", files, written, sum.Entries, sum.TotalBytes)
		}
	})
}

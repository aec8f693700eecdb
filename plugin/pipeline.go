package plugin

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/internal/overlap"
)

// WriteBackup streams the zip of src into w the way Create does and
// returns the archive's figures and the count of bytes written to w.
// archive.Write compresses on its own goroutines and writes the zip in
// order from the calling one; encryption with keys (nil: the zip is
// stored in clear), the digest and the writes to w each run on a
// goroutine of their own (package overlap), so that goroutine never waits
// for them one after another. digest, when not nil, is given every byte
// written to w: the digest is of the stored bytes. On error, w holds a
// partial stream the caller discards.
//
// Create always passes a SHA-256. WriteBackup is exported for
// measurement only: the bench runs it with and without the digest on the
// same data to show what the digest costs.
func WriteBackup(ctx context.Context, w io.Writer, digest hash.Hash, keys *atrest.Keys, src archive.Source, opts archive.WriteOptions) (archive.Stats, int64, error) {
	sinks := []io.Writer{w}
	if digest != nil {
		sinks = append(sinks, digest)
	}
	stored := overlap.New(sinks...)
	var zw io.Writer = stored
	var enc io.WriteCloser
	var toEnc *overlap.Writer
	if keys != nil {
		var err error
		if enc, err = keys.Encrypt(stored); err != nil {
			return archive.Stats{}, 0, errors.Join(err, stored.Close())
		}
		toEnc = overlap.New(enc)
		zw = toEnc
	}
	stats, err := archive.Write(ctx, zw, src, opts)
	if toEnc != nil {
		// Always closed, to end its goroutine; enc only after a whole
		// archive, as its last chunk marks the end of the plaintext.
		if cerr := toEnc.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("encrypt: %w", cerr)
		}
		if err == nil {
			if cerr := enc.Close(); cerr != nil {
				err = fmt.Errorf("encrypt: %w", cerr)
			}
		}
	}
	if cerr := stored.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: %w", cerr)
	}
	return stats, stored.Size(), err
}

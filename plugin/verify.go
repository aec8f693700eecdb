package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Verify implements shared.Backups. The backup is read once from storage
// (a local store's file in place, any other into ScratchDir) and hashed
// on the way; then its structure, the hostile-archive rules and every
// entry's CRC-32 are checked on that copy; a deep verify extracts it into
// ScratchDir/data. A backup stored without a digest gets the one read
// recorded, when its store can (storage.DigestRecorder).
func (s *Service) Verify(ctx context.Context, req shared.VerifyRequest, progress shared.ProgressFunc) (shared.VerifyResult, error) {
	defer releaseMemory()
	if req.Mode != shared.VerifyQuick && req.Mode != shared.VerifyDeep {
		return shared.VerifyResult{}, fmt.Errorf("verify: unknown mode %q: %w", req.Mode, shared.ErrInvalid)
	}
	if !filepath.IsAbs(req.ScratchDir) {
		return shared.VerifyResult{}, fmt.Errorf("verify: scratch dir must be absolute: %w", shared.ErrInvalid)
	}
	st, o, release, err := s.object(ctx, "verify", req.StorageURL, req.Key)
	if err != nil {
		return shared.VerifyResult{}, err
	}
	defer release()
	start := time.Now()
	ra, digest, cleanup, err := s.readHashed(ctx, st, req.Key, o, req.ScratchDir, progress)
	if err != nil {
		return shared.VerifyResult{}, fmt.Errorf("verify %q: %w", req.Key, err)
	}
	defer cleanup()
	// The digest is of the stored bytes; the archive checks read the zip,
	// decrypted when the backup is encrypted at rest. A local file is
	// hashed while they run.
	zr, zsize, archErr := s.plainArchive(ra, o.Size)
	var summary archive.Summary
	if archErr == nil {
		summary, archErr = archive.VerifyWith(ctx, zr, zsize, archive.VerifyOptions{Limits: s.limits, Progress: progressFunc(progress), Engine: s.engine})
	}
	sum, err := digest()
	if err != nil {
		return shared.VerifyResult{}, fmt.Errorf("verify %q: %w", req.Key, err)
	}
	res := shared.VerifyResult{SHA256: sum}
	switch {
	case o.SHA256 == "":
		res.FirstSeen = true
		if rec, ok := st.(storage.DigestRecorder); ok {
			if err := rec.RecordSHA256(ctx, req.Key, o.Size, sum); err != nil {
				s.log.Warn("recording a backup's digest failed", "key", req.Key, "error", err)
			}
		}
	case o.SHA256 != sum:
		// The first problem named: a changed byte explains any other.
		res.Problem = errDigestMismatch(req.Key, o.SHA256, sum).Error()
		return res, nil
	}
	res.Entries, res.TotalBytes = summary.Entries, summary.TotalBytes
	if archErr != nil {
		return problemOr(res, archErr)
	}
	if req.Mode == shared.VerifyDeep {
		dest := filepath.Join(req.ScratchDir, "data")
		if err := os.Mkdir(dest, 0o700); err != nil {
			return res, fmt.Errorf("verify %q: scratch: %w", req.Key, err)
		}
		if _, err := archive.ExtractWith(ctx, zr, zsize, dest, archive.ExtractOptions{
			Limits: s.limits, Progress: progressFunc(progress), Engine: s.engine}); err != nil {
			return problemOr(res, err)
		}
		res.Extracted = dest
	}
	s.log.Info("backup verified", "key", req.Key, "mode", req.Mode, "bytes", o.Size,
		"seconds", time.Since(start).Seconds(), "first_seen", res.FirstSeen)
	return res, nil
}

// problemOr records an archive's rejection, or damaged encryption, as the
// result's problem; any other error (reading, cancelling, no key or a
// wrong one) is returned as an error.
func problemOr(res shared.VerifyResult, err error) (shared.VerifyResult, error) {
	err = archiveError(err)
	if errors.Is(err, archive.ErrInvalid) || errors.Is(err, shared.ErrInvalid) {
		res.Problem = err.Error()
		return res, nil
	}
	return res, err
}

// readHashed returns the stored object as a local io.ReaderAt, the store's
// own file when it is local, otherwise a copy in dir (removed by cleanup),
// and digest, which gives the SHA-256 of the stored bytes: a copy is
// hashed as it is fetched, a local file on a goroutine of its own while
// the caller reads it, digest then waiting for it.
func (s *Service) readHashed(ctx context.Context, st storage.Store, key string, o storage.Object, dir string, progress shared.ProgressFunc) (_ io.ReaderAt, digest func() (string, error), _ func(), _ error) {
	report := func(n int64) {
		if progress != nil {
			progress(shared.Progress{Done: n, Total: o.Size})
		}
	}
	if lf, ok := st.(storage.LocalFiler); ok {
		if path, err := lf.LocalPath(ctx, key); err == nil {
			if f, err := os.Open(path); err == nil {
				// Hashed on a goroutine of its own while the caller reads
				// the archive, whose progress is the one reported.
				type hashed struct {
					sum string
					err error
				}
				done := make(chan hashed, 1)
				go func() {
					sum, n, err := hashAll(ctx, io.NewSectionReader(f, 0, max(o.Size+1, 1)), func(int64) {})
					if err == nil && n != o.Size {
						err = fmt.Errorf("read %d of %d bytes", n, o.Size)
					}
					done <- hashed{sum, err}
				}()
				var once sync.Once
				var h hashed
				digest := func() (string, error) {
					once.Do(func() { h = <-done })
					return h.sum, h.err
				}
				return f, digest, func() { _, _ = digest(); f.Close() }, nil
			}
		}
	}
	tmp, err := os.CreateTemp(dir, ".verify-*.zip")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("temp file: %w", err)
	}
	cleanup := func() { tmp.Close(); _ = removeFile(tmp.Name()) }
	r, err := st.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	sum, n, err := hashAll(ctx, io.TeeReader(r, tmp), report)
	err = errors.Join(err, r.Close())
	if err == nil && n != o.Size {
		err = fmt.Errorf("fetched %d of %d bytes", n, o.Size)
	}
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return tmp, func() (string, error) { return sum, nil }, cleanup, nil
}

// hashAll reads r to its end and returns its lowercase hex SHA-256 and
// length, reporting the bytes read now and then.
func hashAll(ctx context.Context, r io.Reader, report func(int64)) (string, int64, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return "", n, err
		}
		k, err := r.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if k > 0 && n%(16<<20) < int64(k) {
			report(n)
		}
		if errors.Is(err, io.EOF) {
			report(n)
			return hex.EncodeToString(h.Sum(nil)), n, nil
		}
		if err != nil {
			return "", n, err
		}
	}
}

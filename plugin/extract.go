package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Inspect implements shared.Backups: it reads only the archive's central
// directory, through range reads.
func (s *Service) Inspect(ctx context.Context, storageURL, key string) (shared.ArchiveSummary, error) {
	st, o, release, err := s.object(ctx, "inspect", storageURL, key)
	if err != nil {
		return shared.ArchiveSummary{}, err
	}
	defer release()
	ra := &rangeReaderAt{ctx: ctx, store: st, key: key, size: o.Size}
	defer ra.release()
	zr, zsize, err := s.plainArchive(ra, o.Size)
	if err != nil {
		return shared.ArchiveSummary{}, fmt.Errorf("inspect %q: %w", key, err)
	}
	sum, err := archive.Check(zr, zsize, s.limits)
	if err != nil {
		err = archiveError(err)
		if errors.Is(err, archive.ErrInvalid) {
			return shared.ArchiveSummary{}, fmt.Errorf("inspect %q: %w: %w", key, shared.ErrInvalid, err)
		}
		return shared.ArchiveSummary{}, fmt.Errorf("inspect %q: %w", key, err)
	}
	return shared.ArchiveSummary{Entries: sum.Entries, TotalBytes: sum.TotalBytes, HasDataDB: sum.HasDataDB}, nil
}

// Extract implements shared.Backups: it fetches the archive into a temp
// file beside the staging directory (same filesystem), then extracts it
// there, bounded by the service's limits. Rollback journals in the archive
// are logged and left out (see archive.RollbackJournal).
func (s *Service) Extract(ctx context.Context, req shared.ExtractRequest, progress shared.ProgressFunc) (err error) {
	defer releaseMemory()
	if !filepath.IsAbs(req.DestDir) {
		return fmt.Errorf("extract: destination must be absolute: %w", shared.ErrInvalid)
	}
	st, o, release, err := s.object(ctx, "extract", req.StorageURL, req.Key)
	if err != nil {
		return err
	}
	defer release()
	start := time.Now()
	// The digest of a local file is checked while it is extracted.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, size, digestChecked, cleanup, err := s.fetchForExtract(ctx, st, req, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cleanup()) }()
	sum, err := s.extractFetched(ctx, req, src, size, progress)
	// A digest mismatch is the reason given even when the extraction
	// failed too: a changed byte is likely why it did.
	if derr := digestChecked(); derr != nil && (err == nil || errors.Is(derr, shared.ErrDigestMismatch)) {
		return errors.Join(derr, discardExtracted(req.DestDir))
	}
	if err != nil {
		return err
	}
	for _, name := range sum.Skipped {
		s.log.Warn("rollback journal in the backup not restored", "key", req.Key, "entry", name)
	}
	elapsed := time.Since(start)
	s.log.Info("backup extracted", "key", req.Key, "bytes", size, "seconds", elapsed.Seconds(), "mib_per_s", mibPerSecond(size, elapsed))
	return nil
}

// discardExtracted empties dest, which the extraction found empty, so
// nothing of a refused archive is left for a caller to take.
func discardExtracted(dest string) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("discard extracted files: %w", err)
	}
	defer root.Close()
	entries, err := os.ReadDir(dest)
	for _, e := range entries {
		err = errors.Join(err, root.RemoveAll(e.Name()))
	}
	if err != nil {
		return fmt.Errorf("discard extracted files: %w", err)
	}
	return nil
}

// extractFetched extracts the fetched archive src into req.DestDir.
func (s *Service) extractFetched(ctx context.Context, req shared.ExtractRequest, src io.ReaderAt, size int64, progress shared.ProgressFunc) (archive.Summary, error) {
	zr, zsize, err := s.plainArchive(src, size)
	if err != nil {
		return archive.Summary{}, fmt.Errorf("extract %q: %w", req.Key, err)
	}
	sum, err := archive.ExtractWith(ctx, zr, zsize, req.DestDir, archive.ExtractOptions{
		Limits: s.limits, Progress: progressFunc(progress), Engine: s.engine, SyncEachFile: s.syncEachFile,
		RootFilesDone: req.RootFilesExtracted})
	if err != nil {
		err = archiveError(err)
		if errors.Is(err, archive.ErrInvalid) {
			return sum, fmt.Errorf("extract %q: %w: %w", req.Key, shared.ErrInvalid, err)
		}
		return sum, fmt.Errorf("extract %q: %w", req.Key, err)
	}
	return sum, nil
}

// fetchForExtract returns the archive as a local io.ReaderAt: the stored
// file itself when the store is local, otherwise a temp copy beside the
// staging directory (same filesystem), removed by cleanup. When a digest
// is stored with the backup, what was read must match it: a remote copy
// is hashed as it arrives, before fetchForExtract returns; a local file is
// hashed on a goroutine of its own while the caller extracts it, and
// digestChecked waits for that verdict. The caller must call digestChecked
// before cleanup, and must refuse what it extracted unless it is nil.
func (s *Service) fetchForExtract(ctx context.Context, st storage.Store, req shared.ExtractRequest, o storage.Object) (ra io.ReaderAt, size int64, digestChecked, cleanup func() error, err error) {
	checked := func() error { return nil }
	if lf, ok := st.(storage.LocalFiler); ok {
		if path, err := lf.LocalPath(ctx, req.Key); err == nil {
			if f, err := os.Open(path); err == nil {
				if info, err := f.Stat(); err == nil && info.Size() == o.Size {
					verdict := make(chan error, 1)
					go func() { verdict <- checkDigest(ctx, req.Key, o.SHA256, io.NewSectionReader(f, 0, o.Size)) }()
					return f, o.Size, func() error { return <-verdict }, f.Close, nil
				}
				f.Close()
			}
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(req.DestDir), ".download-*.zip")
	if err != nil {
		return nil, 0, nil, nil, fmt.Errorf("extract %q: temp file: %w", req.Key, err)
	}
	cleanup = func() error { return errors.Join(tmp.Close(), removeFile(tmp.Name())) }
	r, err := st.NewRangeReader(ctx, req.Key, 0, -1)
	if err != nil {
		return nil, 0, nil, nil, errors.Join(fmt.Errorf("extract %q: %w", req.Key, err), cleanup())
	}
	hw := newHashingWriter(tmp)
	n, err := io.Copy(hw, r)
	err = errors.Join(err, r.Close())
	if err == nil && n != o.Size {
		err = fmt.Errorf("fetched %d of %d bytes", n, o.Size)
	}
	if err != nil {
		return nil, 0, nil, nil, errors.Join(fmt.Errorf("extract %q: fetch: %w", req.Key, err), cleanup())
	}
	if o.SHA256 != "" && hw.sum() != o.SHA256 {
		return nil, 0, nil, nil, errors.Join(errDigestMismatch(req.Key, o.SHA256, hw.sum()), cleanup())
	}
	return tmp, n, checked, cleanup, nil
}

// rangeReaderAt reads a stored object through range reads, one block at
// a time, keeping the last block (central directories are read in small
// sequential pieces).
type rangeReaderAt struct {
	ctx   context.Context
	store storage.Store
	key   string
	size  int64

	blockOff int64
	block    []byte
}

const rangeBlockSize = 256 << 10

func (r *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < r.size {
		if r.block == nil || off < r.blockOff || off >= r.blockOff+int64(len(r.block)) {
			if err := r.fill(off); err != nil {
				return n, err
			}
		}
		c := copy(p[n:], r.block[off-r.blockOff:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *rangeReaderAt) fill(off int64) error {
	start := off - off%rangeBlockSize
	length := min(int64(rangeBlockSize), r.size-start)
	rc, err := r.store.NewRangeReader(r.ctx, r.key, start, length)
	if err != nil {
		return err
	}
	defer rc.Close()
	buf := make([]byte, length)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return fmt.Errorf("range read %q at %d: %w", r.key, start, err)
	}
	r.blockOff, r.block = start, buf
	return nil
}

func (r *rangeReaderAt) release() { r.block = nil }

// checkDigest reads r to its end and fails, wrapping shared.ErrInvalid,
// unless its digest is want; an empty want (none recorded) passes unread.
func checkDigest(ctx context.Context, key, want string, r io.Reader) error {
	if want == "" {
		return nil
	}
	got, _, err := hashAll(ctx, r, func(int64) {})
	if err != nil {
		return fmt.Errorf("extract %q: read: %w", key, err)
	}
	if got != want {
		return errDigestMismatch(key, want, got)
	}
	return nil
}

package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/internal/zipsig"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Upload implements shared.Backups. The body must start like a zip; the
// whole archive is checked (central directory, every entry's name and
// kind, limits) before it is committed. When the store's writer can read
// back what it wrote (the local store), the body streams straight into
// the uncommitted object and is checked there: one write. Otherwise it is
// spooled to a private temp file first. Nothing is left on any error.
func (s *Service) Upload(ctx context.Context, storageURL, key string, body io.Reader) (shared.BackupInfo, error) {
	defer releaseMemory()
	st, release, err := s.store(ctx, storageURL)
	if err != nil {
		return shared.BackupInfo{}, err
	}
	defer release()
	if err := s.ensureFree(ctx, st, key); err != nil {
		return shared.BackupInfo{}, err
	}
	br := bufio.NewReaderSize(body, 64<<10)
	if head, _ := br.Peek(zipsig.Len); !zipsig.Starts(head) {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: not a zip: %w", key, shared.ErrInvalid)
	}
	w, err := st.NewWriter(ctx, key)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: %w", key, err)
	}
	var size int64
	hw := newHashingWriter(w)
	if ra, ok := w.(io.ReaderAt); ok {
		size, err = s.receiveInPlace(hw, ra, br)
	} else {
		size, err = s.receiveSpooled(hw, br)
	}
	if err == nil {
		err = setDigest(w, hw.sum())
	}
	if err == nil {
		// Checked again right before the commit: another upload may have won.
		err = s.ensureFree(ctx, st, key)
	}
	if err != nil {
		return shared.BackupInfo{}, errors.Join(fmt.Errorf("upload %q: %w", key, err), w.Abort())
	}
	if err := w.Commit(); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: commit: %w", key, err)
	}
	s.log.Info("backup uploaded", "key", key, "bytes", size)
	return s.Stat(ctx, storageURL, key)
}

// receiveInPlace copies body into w and checks the archive by reading it
// back through ra.
func (s *Service) receiveInPlace(w io.Writer, ra io.ReaderAt, body io.Reader) (int64, error) {
	size, err := io.Copy(w, body)
	if err != nil {
		return size, fmt.Errorf("receive: %w", err)
	}
	return size, s.check(ra, size)
}

// receiveSpooled copies body to a private temp file, checks it there and
// then copies it into w.
func (s *Service) receiveSpooled(w io.Writer, body io.Reader) (_ int64, err error) {
	tmp, err := os.CreateTemp("", "pocketbackup-upload-*.zip")
	if err != nil {
		return 0, fmt.Errorf("temp file: %w", err)
	}
	defer func() { err = errors.Join(err, tmp.Close(), removeFile(tmp.Name())) }()
	size, err := io.Copy(tmp, body)
	if err != nil {
		return size, fmt.Errorf("receive: %w", err)
	}
	if err := s.check(tmp, size); err != nil {
		return size, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return size, fmt.Errorf("rewind: %w", err)
	}
	if _, err := io.Copy(w, tmp); err != nil {
		return size, fmt.Errorf("store: %w", err)
	}
	return size, nil
}

// check validates a received archive of size bytes.
func (s *Service) check(ra io.ReaderAt, size int64) error {
	if _, err := archive.Check(ra, size, s.limits); err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return fmt.Errorf("%w: %w", shared.ErrInvalid, err)
		}
		return err
	}
	return nil
}

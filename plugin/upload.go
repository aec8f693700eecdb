package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Upload implements shared.Backups. The body is spooled to a private temp
// file, sniffed and checked as a whole archive, and only then written to
// storage and committed. The temp file is removed on every path.
func (s *Service) Upload(ctx context.Context, storageURL, key string, body io.Reader) (_ shared.BackupInfo, err error) {
	st, err := s.store(ctx, storageURL)
	if err != nil {
		return shared.BackupInfo{}, err
	}
	if err := s.ensureFree(ctx, st, key); err != nil {
		return shared.BackupInfo{}, err
	}
	tmp, err := os.CreateTemp("", "pocketbackup-upload-*.zip")
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload: temp file: %w", err)
	}
	defer func() { err = errors.Join(err, tmp.Close(), removeFile(tmp.Name())) }()

	size, err := io.Copy(tmp, body)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: receive: %w", key, err)
	}
	head := make([]byte, 4)
	if _, err := tmp.ReadAt(head, 0); err != nil || !archive.LooksLikeZip(head) {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: not a zip: %w", key, shared.ErrInvalid)
	}
	if _, err := archive.Check(tmp, size, s.limits); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: %w: %w", key, shared.ErrInvalid, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: rewind: %w", key, err)
	}
	// Checked again right before the write: another upload may have won.
	if err := s.ensureFree(ctx, st, key); err != nil {
		return shared.BackupInfo{}, err
	}
	w, err := st.NewWriter(ctx, key)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: %w", key, err)
	}
	if _, err := io.Copy(w, tmp); err != nil {
		return shared.BackupInfo{}, errors.Join(fmt.Errorf("upload %q: store: %w", key, err), w.Abort())
	}
	if err := w.Commit(); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: commit: %w", key, err)
	}
	s.log.Info("backup uploaded", "key", key, "bytes", size)
	return s.Stat(ctx, storageURL, key)
}

package plugin

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/internal/overlap"
	"github.com/pocketbackup/pocketbackup/internal/zipsig"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Upload implements shared.Backups. The body must start like a zip or be
// an age file (an encrypted backup of this project, stored as it is and
// checked decrypted); a zip is encrypted on its way into storage when
// the plugin has keys. The whole archive is checked (central directory, every entry's name and
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
	keys, err := s.keysOrError()
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: %w", key, err)
	}
	br := bufio.NewReaderSize(body, 64<<10)
	head, _ := br.Peek(max(zipsig.Len, len(atrest.Magic)))
	in := storedForm{body: br}
	switch {
	case atrest.IsEncrypted(head):
		if keys == nil {
			return shared.BackupInfo{}, fmt.Errorf("upload %q: %w", key, cryptError(atrest.ErrNoKey))
		}
		in.encrypted = true
	case zipsig.Starts(head):
		in.keys = keys
	default:
		return shared.BackupInfo{}, fmt.Errorf("upload %q: not a zip: %w", key, shared.ErrInvalid)
	}
	w, err := st.NewWriter(ctx, key)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("upload %q: %w", key, err)
	}
	var size int64
	digest := sha256.New()
	ow := overlap.New(w, digest)
	if ra, ok := w.(io.ReaderAt); ok {
		size, err = s.receiveInPlace(ow, ra, in)
	} else {
		size, err = s.receiveSpooled(ow, in)
	}
	if err == nil {
		err = setDigest(w, hexSum(digest))
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

// storedForm is an upload's body as it is to be stored: encrypted on the
// way with keys, or as it is when keys is nil.
type storedForm struct {
	body io.Reader
	keys *atrest.Keys
	// encrypted: the body came encrypted; every chunk of it is then
	// authenticated before it is kept, not only those the check reads.
	encrypted bool
}

// writeTo copies the body, in its stored form, to dst and returns the
// stored bytes' count.
func (f storedForm) writeTo(dst io.Writer) (int64, error) {
	if f.keys == nil {
		return io.Copy(dst, f.body)
	}
	counted := &countingWriter{w: dst}
	enc, err := f.keys.Encrypt(counted)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(enc, f.body); err != nil {
		return counted.n, err
	}
	if err := enc.Close(); err != nil {
		return counted.n, fmt.Errorf("encrypt: %w", err)
	}
	return counted.n, nil
}

// receiveInPlace copies body into w, the writer of ra, and checks the
// archive by reading it back through ra. w is closed on every path.
func (s *Service) receiveInPlace(w *overlap.Writer, ra io.ReaderAt, body storedForm) (int64, error) {
	size, err := body.writeTo(w)
	if cerr := w.Close(); err == nil && cerr != nil {
		return size, fmt.Errorf("store: %w", cerr)
	}
	if err != nil {
		return size, fmt.Errorf("receive: %w", err)
	}
	return size, s.check(ra, size, body.encrypted)
}

// receiveSpooled copies body to a private temp file, checks it there and
// then copies it into w. w is closed on every path.
func (s *Service) receiveSpooled(w *overlap.Writer, body storedForm) (_ int64, err error) {
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("store: %w", cerr)
		}
	}()
	tmp, err := os.CreateTemp("", "pocketbackup-upload-*.zip")
	if err != nil {
		return 0, fmt.Errorf("temp file: %w", err)
	}
	defer func() { err = errors.Join(err, tmp.Close(), removeFile(tmp.Name())) }()
	size, err := body.writeTo(tmp)
	if err != nil {
		return size, fmt.Errorf("receive: %w", err)
	}
	if err := s.check(tmp, size, body.encrypted); err != nil {
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

// check validates a received archive of size stored bytes, decrypted
// when encrypted; authenticateAll decrypts it all once first.
func (s *Service) check(ra io.ReaderAt, size int64, authenticateAll bool) error {
	zr, zsize, err := s.plainArchive(ra, size)
	if err != nil {
		return err
	}
	if authenticateAll {
		if _, err := io.Copy(io.Discard, io.NewSectionReader(zr, 0, zsize)); err != nil {
			return archiveError(fmt.Errorf("authenticate: %w", err))
		}
	}
	if _, err := archive.Check(zr, zsize, s.limits); err != nil {
		if err := archiveError(err); !errors.Is(err, archive.ErrInvalid) {
			return err
		}
		return fmt.Errorf("%w: %w", shared.ErrInvalid, err)
	}
	return nil
}

// countingWriter counts what it passes on to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

package atrest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"filippo.io/age"
)

// Magic is how every age file, and so every encrypted backup, begins.
const Magic = "age-encryption.org/v1\n"

// HeadLen is how many leading bytes IsEncrypted and PlainSize want: enough
// for the header of a file encrypted to a few recipients.
const HeadLen = 4 << 10

// The errors a decryption fails with. Their messages name the problem and
// nothing of the keys.
var (
	// ErrNoKey: the backup is encrypted and the host holds no key.
	ErrNoKey = errors.New("the backup is encrypted and no encryption key is configured")
	// ErrWrongKey: none of the host's keys opens the backup.
	ErrWrongKey = errors.New("none of the configured encryption keys can decrypt the backup")
	// ErrCorrupt: the encrypted bytes are damaged, truncated or tampered with.
	ErrCorrupt = errors.New("the encrypted backup is damaged, truncated or tampered with")
)

// Sizes of age's STREAM payload: the nonce before the first chunk, the
// plaintext of a full chunk, and the tag after each chunk.
const (
	nonceSize = 16
	chunkSize = 64 << 10
	tagSize   = 16
)

// IsEncrypted reports whether head, a file's first bytes, starts an age file.
func IsEncrypted(head []byte) bool {
	return bytes.HasPrefix(head, []byte(Magic))
}

// PlainSize returns the size of the plaintext of an age file of storedSize
// bytes whose first bytes are head, from the header's length alone (no
// key needed), or false when head does not hold a whole header. It is not
// authenticated: a decryption checks it.
func PlainSize(head []byte, storedSize int64) (int64, bool) {
	if !IsEncrypted(head) {
		return 0, false
	}
	i := bytes.Index(head, []byte("\n--- "))
	if i < 0 {
		return 0, false
	}
	j := bytes.IndexByte(head[i+1:], '\n')
	if j < 0 {
		return 0, false
	}
	payload := storedSize - int64(i+1+j+1) - nonceSize
	if payload < tagSize {
		return 0, false
	}
	chunks := (payload + chunkSize + tagSize - 1) / (chunkSize + tagSize)
	return payload - chunks*tagSize, true
}

// Encrypt returns a writer that encrypts what is written to it into dst,
// streaming (one 64 KiB chunk in memory), to k's first identity. Close
// it to write the last chunk; it does not close dst.
func (k *Keys) Encrypt(dst io.Writer) (io.WriteCloser, error) {
	if k == nil {
		return nil, ErrNoKey
	}
	w, err := age.Encrypt(dst, k.recipient)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return w, nil
}

// Decrypt returns the plaintext of the age file src, read sequentially.
// Reads fail with ErrCorrupt once a chunk does not authenticate or the
// file ends early.
func (k *Keys) Decrypt(src io.Reader) (io.Reader, error) {
	if k == nil {
		return nil, ErrNoKey
	}
	r, err := age.Decrypt(src, k.ids...)
	if err != nil {
		return nil, decryptError(err)
	}
	return &corruptReader{r: r}, nil
}

// DecryptReaderAt returns the plaintext of the age file of size bytes in
// src, readable at any offset (each read decrypts the chunks it covers),
// and the plaintext's size. Opening it reads the header and the last
// chunk, so a truncated file is refused here; a damaged chunk fails the
// read that reaches it with ErrCorrupt.
func (k *Keys) DecryptReaderAt(src io.ReaderAt, size int64) (io.ReaderAt, int64, error) {
	if k == nil {
		return nil, 0, ErrNoKey
	}
	s := &sourceReaderAt{ra: src}
	ra, n, err := age.DecryptReaderAt(s, size, k.ids...)
	if err != nil {
		if serr := s.failed(); serr != nil {
			return nil, 0, fmt.Errorf("read encrypted backup: %w", serr)
		}
		return nil, 0, decryptError(err)
	}
	return &corruptReaderAt{ra: ra, src: s}, n, nil
}

// decryptError sorts age's errors into this package's kinds, keeping the
// cause's text for logs.
func decryptError(err error) error {
	var noMatch *age.NoIdentityMatchError
	if errors.As(err, &noMatch) {
		return ErrWrongKey
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// corruptReader marks read errors other than io.EOF as ErrCorrupt.
type corruptReader struct{ r io.Reader }

func (c *corruptReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return n, err
}

// corruptReaderAt marks read errors other than io.EOF as ErrCorrupt,
// unless reading the encrypted bytes failed (storage, not content).
type corruptReaderAt struct {
	ra  io.ReaderAt
	src *sourceReaderAt
}

func (c *corruptReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	if err != nil && err != io.EOF {
		if serr := c.src.failed(); serr != nil {
			return n, fmt.Errorf("read encrypted backup: %w", serr)
		}
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return n, err
}

// sourceReaderAt remembers the first error of the reads of the encrypted
// bytes other than io.EOF, which age reports without wrapping.
type sourceReaderAt struct {
	ra  io.ReaderAt
	err atomic.Pointer[error]
}

func (s *sourceReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.ra.ReadAt(p, off)
	if err != nil && err != io.EOF {
		s.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (s *sourceReaderAt) failed() error {
	if e := s.err.Load(); e != nil {
		return *e
	}
	return nil
}

package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// hashingWriter hashes and counts what it passes on to w: the digest of a
// backup is computed while it streams into storage, never by reading it
// again.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashingWriter(w io.Writer) *hashingWriter {
	return &hashingWriter{w: w, h: sha256.New()}
}

func (c *hashingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// sum is the lowercase hex digest of what was written.
func (c *hashingWriter) sum() string { return hexSum(c.h) }

// hexSum is the lowercase hex digest of what h was given.
func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// setDigest hands sum to w when its store keeps digests.
func setDigest(w storage.Writer, sum string) error {
	dw, ok := w.(storage.DigestWriter)
	if !ok {
		return nil
	}
	if err := dw.SetSHA256(sum); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	return nil
}

// errDigestMismatch is the reason a backup whose bytes differ from its
// recorded digest is refused.
func errDigestMismatch(key, want, got string) error {
	return fmt.Errorf("backup %q: its content does not match the SHA-256 recorded when it was stored (recorded %s, read %s): %w",
		key, want, got, shared.ErrDigestMismatch)
}

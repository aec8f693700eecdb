package storage

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/pocketbackup/pocketbackup/shared"
)

// DigestWriter is implemented by a Writer whose store keeps each object's
// SHA-256 with it, so that a backup can later be proven unchanged since it
// was written. The writer of a backup computes the digest while streaming
// (no second read) and hands it over before Commit; the store then returns
// it in Object.SHA256 from List and Stat, and removes it with the object.
// The conformance suite (storagetest) checks stores whose writers have it.
type DigestWriter interface {
	// SetSHA256 records the lowercase hex SHA-256 of everything written.
	// Call it after the last Write and before Commit.
	SetSHA256(sum string) error
}

// ValidSHA256 reports whether s is a lowercase hex SHA-256.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// checkSHA256 returns an error wrapping shared.ErrInvalid for a malformed digest.
func checkSHA256(key, sum string) error {
	if ValidSHA256(sum) {
		return nil
	}
	return fmt.Errorf("digest of %q: not a lowercase hex SHA-256: %w", key, shared.ErrInvalid)
}

// DigestRecorder is implemented by stores that can record the digest of
// an object stored without one (a backup from before digests, or from
// PocketBase), as a verify reads it.
type DigestRecorder interface {
	// RecordSHA256 records sum for key if key is still the object of size
	// bytes it was computed from, and has no digest yet.
	RecordSHA256(ctx context.Context, key string, size int64, sum string) error
}

package storage

import (
	"fmt"

	"github.com/pocketbackup/pocketbackup/shared"
)

// MaxKeyLen is the longest key, in bytes, a Store accepts. It matches the
// file name limit of common local filesystems.
const MaxKeyLen = shared.MaxKeyLength

// ValidKey reports whether key can name an object. It is [shared.ValidKey],
// the one key rule of the project: 1 to MaxKeyLen bytes of valid UTF-8 with
// no '/', '\\', control or format characters, not starting with '.'
// (reserved for temp files, and ruling out "." and "..") and not ending in
// ".attrs" (gocloud's fileblob metadata sidecars).
func ValidKey(key string) bool {
	return shared.ValidKey(key)
}

// checkKey returns an error wrapping shared.ErrInvalid when key is not valid.
func checkKey(op, key string) error {
	if ValidKey(key) {
		return nil
	}
	return fmt.Errorf("%s %q: invalid key: %w", op, key, shared.ErrInvalid)
}

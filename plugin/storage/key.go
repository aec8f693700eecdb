package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pocketbackup/pocketbackup/shared"
)

// MaxKeyLen is the longest key, in bytes, a Store accepts. It matches the
// file name limit of common local filesystems.
const MaxKeyLen = 255

// ValidKey reports whether key can name an object: 1 to MaxKeyLen bytes of
// valid UTF-8 with no '/', '\\' or control characters, not "." or "..", not
// starting with '.' (reserved for temp files) and not ending in ".attrs"
// (gocloud's fileblob metadata sidecars).
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	if key[0] == '.' || strings.HasSuffix(key, ".attrs") {
		return false // also rules out "." and ".."
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c < 0x20, c == 0x7f, c == '/', c == '\\':
			return false
		}
	}
	return utf8.ValidString(key)
}

// checkKey returns an error wrapping shared.ErrInvalid when key is not valid.
func checkKey(op, key string) error {
	if ValidKey(key) {
		return nil
	}
	return fmt.Errorf("%s %q: invalid key: %w", op, key, shared.ErrInvalid)
}

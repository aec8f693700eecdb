package shared

import (
	"strings"

	"github.com/pocketbackup/pocketbackup/internal/safename"
)

// MaxKeyLength is the longest backup key accepted anywhere.
const MaxKeyLength = 255

// ValidKey reports whether key can name a backup in any storage: a flat,
// visible file name. It is the one rule both sides apply, so a key that
// tries to leave the backups store ("../x", "a/b", "a\\b", ".attrs"
// sidecars, hidden temp files) never reaches a storage driver. Its
// characters follow the project's one character rule
// ([safename.ValidChars]): valid UTF-8 with no control or format
// characters (no C1 controls, no bidirectional overrides), the same rule
// package archive applies to entry names.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLength || !safename.ValidChars(key) {
		return false
	}
	if key[0] == '.' || strings.HasSuffix(key, ".attrs") {
		return false
	}
	return !strings.ContainsAny(key, `/\`)
}

package shared

import (
	"strings"
	"unicode/utf8"
)

// MaxKeyLength is the longest backup key accepted anywhere.
const MaxKeyLength = 255

// ValidKey reports whether key can name a backup in any storage: a flat,
// visible file name. It is the one rule both sides apply, so a key that
// tries to leave the backups store ("../x", "a/b", "a\\b", ".attrs"
// sidecars, hidden temp files) never reaches a storage driver.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLength || !utf8.ValidString(key) {
		return false
	}
	if key[0] == '.' || strings.HasSuffix(key, ".attrs") {
		return false
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

// Package safename holds the one character rule for names that arrive from
// outside the process: backup keys (checked by the host's routes and by
// every storage driver, through shared.ValidKey) and zip entry names
// (checked by package archive before anything is extracted).
//
// It exists so that those layers agree without depending on each other:
// archive must not import shared, and shared imports nothing else of this
// repository but this leaf, which imports nothing of ours. A name that one
// layer refuses and another accepts is how a hostile name slips through the
// gap, so the rule lives here once.
//
// The rule is about characters only. Each caller adds its own structure
// rules (separators, length, leading dots).
package safename

import (
	"unicode"
	"unicode/utf8"
)

// ValidRune reports whether r may appear in a name. It refuses control
// characters (C0, DEL and C1: [unicode.IsControl]) and format characters
// (Unicode category Cf: bidirectional overrides such as U+202E, zero-width
// spaces and joiners, the byte-order mark, soft hyphens), which make a name
// look, in a log, a terminal or a browser, like another name, or rewrite
// the line they are printed on.
func ValidRune(r rune) bool {
	return !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r)
}

// ValidChars reports whether s is valid UTF-8 made only of characters
// [ValidRune] accepts. The empty string passes: whether a name may be empty
// is the caller's rule.
func ValidChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !ValidRune(r) {
			return false
		}
	}
	return true
}

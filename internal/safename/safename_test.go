package safename

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestValidChars(t *testing.T) {
	valid := []string{"", "a.zip", "pb_backup_20260101000000.zip", "résumé-バックアップ.zip",
		"with space & symbols +=,;@!~'()[]{}%$#", "\uFFFD", "a/b\\c"}
	invalid := []string{
		"a\x00b", "a\nb", "a\tb", "a\x1fb", "a\x7fb", // C0 and DEL
		"a\u0080b", "a\u0085b", "a\u009fb", // C1
		"evil\u202Egpj.zip", "a\u202Ab", "a\u2066b", "a\u2069b", // bidi embeddings, overrides, isolates
		"a\u200Bb", "a\u200Db", "a\u200Eb", "\uFEFFa", "a\u00ADb", // zero width, marks, BOM, soft hyphen
		"a\U000E0041b",                  // tag character
		"\xff", "a\xc3", "\xed\xa0\x80", // invalid UTF-8, a surrogate
	}
	for _, s := range valid {
		if !ValidChars(s) {
			t.Errorf("ValidChars(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if ValidChars(s) {
			t.Errorf("ValidChars(%q) = true, want false", s)
		}
	}
}

// FuzzValidChars checks ValidChars against the rule spelled out rune by
// rune, with the ranges written out independently of package unicode.
func FuzzValidChars(f *testing.F) {
	for _, s := range []string{"a.zip", "a\x00", "\u0085", "\u202E", "\uFEFF", "\xff", "é", "\U000E0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ValidChars(s)
		want := utf8.ValidString(s)
		for _, r := range s {
			if !ValidRune(r) {
				want = false
			}
		}
		if got != want {
			t.Fatalf("ValidChars(%q) = %v, but its runes and UTF-8 say %v", s, got, want)
		}
		if !got {
			return
		}
		for _, r := range s {
			switch {
			case r < 0x20, r >= 0x7f && r <= 0x9f:
				t.Fatalf("accepted %q with control character %U", s, r)
			case r >= 0x200b && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2060 && r <= 0x2064,
				r >= 0x2066 && r <= 0x206f, r == 0xfeff, r == 0x00ad, r >= 0xfff9 && r <= 0xfffb,
				r == 0xe0001, r >= 0xe0020 && r <= 0xe007f:
				t.Fatalf("accepted %q with format character %U", s, r)
			case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}

package shared_test

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pocketbackup/pocketbackup/internal/safename"
	"github.com/pocketbackup/pocketbackup/shared"
)

// FuzzValidKey checks the one key rule both sides apply: whatever it
// accepts is a flat, visible file name that cannot leave the backups store,
// and its characters are exactly those of the project's one character rule
// (safename.ValidChars, which archive.ValidName applies to entry names).
// The committed corpus (testdata/fuzz/FuzzValidKey) holds the hostile names
// the routes are tested with.
func FuzzValidKey(f *testing.F) {
	for _, k := range []string{"a.zip", "pb_backup_20260101000000.zip", "@auto_pb_backup_1.zip", "..", "../x.zip", "a/b.zip",
		`a\b.zip`, "a\x00.zip", ".tmp-1", ".attrs", "x.zip.attrs", strings.Repeat("a", 300), "\xff.zip", "%2e%2e", "é.zip",
		"a\u0085.zip", "a\u009b.zip", "evil\u202egpj.zip", "a\u200b.zip", "\ufeffa.zip"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		// A name whose only possible fault is a character: the key rule
		// and the character rule must then agree, both ways.
		if plain := "k" + strings.NewReplacer("/", "", "\\", "").Replace(k); len(plain) <= shared.MaxKeyLength &&
			!strings.HasSuffix(plain, ".attrs") && shared.ValidKey(plain) != safename.ValidChars(plain) {
			t.Fatalf("ValidKey(%q) = %v, the character rule says %v", plain, shared.ValidKey(plain), safename.ValidChars(plain))
		}
		if !shared.ValidKey(k) {
			return
		}
		switch {
		case k == "" || k == "." || k == "..":
			t.Fatalf("accepted %q", k)
		case strings.ContainsAny(k, "/\\\x00"):
			t.Fatalf("accepted %q with a separator or NUL", k)
		case k[0] == '.':
			t.Fatalf("accepted hidden %q", k)
		case strings.HasSuffix(k, ".attrs"):
			t.Fatalf("accepted sidecar %q", k)
		case len(k) > shared.MaxKeyLength || len(k) > 255:
			t.Fatalf("accepted %d-byte key", len(k))
		case filepath.Base(k) != k:
			t.Fatalf("accepted %q, whose base name is %q", k, filepath.Base(k))
		case !filepath.IsLocal(k):
			t.Fatalf("accepted non-local %q", k)
		case !utf8.ValidString(k):
			t.Fatalf("accepted invalid UTF-8 %q", k)
		}
		for _, r := range k {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x202e || r == 0x200b || r == 0xfeff {
				t.Fatalf("accepted %q with control or format character %U", k, r)
			}
		}
	})
}

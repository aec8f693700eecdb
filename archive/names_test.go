package archive

import (
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/internal/safename"
)

func TestValidName(t *testing.T) {
	valid := []string{
		"data.db", "data.db-wal", "storage/abc/def/photo_1.png", "a/", "a/b/",
		".pb_temp_to_delete/x", "..a", "a..", "a/.b", "ünïcødé/名前.txt", "a b/c d",
		strings.Repeat("a", 255), strings.Repeat(strings.Repeat("a", 255)+"/", 16),
	}
	invalid := []string{
		"", "/", "/abs", "/abs/", "../x", "..", ".", "./a", "a/./b", "a/.", "a/..",
		"a/../b", "a/../../x", "a//b", "a//", "//a", `a\b`, `..\x`, "a\x00b",
		"a\nb", "a\rb", "a\x7fb", "a\u0085b", "a\u009bb", "storage/evil\u202egpj.exe", "a\u200bb/c",
		"\ufeffdata.db", "a\u2066b", "\xff\xfe", strings.Repeat("a", 256),
		strings.Repeat(strings.Repeat("a", 255)+"/", 16) + "b",
	}
	for _, name := range valid {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false, want true", name)
		}
	}
	for _, name := range invalid {
		if ValidName(name) {
			t.Errorf("ValidName(%q) = true, want false", name)
		}
	}
}

func TestTreeClashes(t *testing.T) {
	tests := []struct {
		names []string
		ok    bool
	}{
		{[]string{"a", "b", "c/d", "c/e", "c/"}, true},
		{[]string{"c/", "c/d/", "c/d/e"}, true},
		{[]string{"A", "a"}, true}, // case counts
		{[]string{"a", "a"}, false},
		{[]string{"a/", "a/"}, false},
		{[]string{"a", "a/"}, false},
		{[]string{"a/", "a"}, false},
		{[]string{"a", "a/b"}, false},
		{[]string{"a/b", "a"}, false},
		{[]string{"a", "a/b/c"}, false},
		{[]string{"a/b/c", "a/b"}, false},
		{[]string{"x/y", "a/b/c", "a/b"}, false},
	}
	for _, tt := range tests {
		var tr tree
		var err error
		for _, n := range tt.names {
			if err = tr.add(n); err != nil {
				break
			}
		}
		if (err == nil) != tt.ok {
			t.Errorf("tree of %q: err = %v, want ok = %v", tt.names, err, tt.ok)
		}
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"data.db", "a/b/", "../x", "/abs", "a//b", `a\b`, "a\x00", ".", "a/./b", "ü/ß",
		"a\u0085", "evil\u202egpj", "a\u200b", "\ufeffdata.db"} {
		f.Add(s)
	}
	base := filepath.FromSlash("/base/dest")
	f.Fuzz(func(t *testing.T, name string) {
		// A one-element name whose only possible fault is a character: the
		// name rule and the character rule must then agree, both ways.
		if plain := "n" + strings.NewReplacer("/", "", "\\", "").Replace(name); len(plain) <= maxElemLen &&
			ValidName(plain) != safename.ValidChars(plain) {
			t.Fatalf("ValidName(%q) = %v, the character rule says %v", plain, ValidName(plain), safename.ValidChars(plain))
		}
		if !ValidName(name) {
			return
		}
		if !safename.ValidChars(name) {
			t.Fatalf("ValidName(%q) accepted a character the character rule refuses", name)
		}
		rest := strings.TrimSuffix(name, "/")
		if rest == "" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
			t.Fatalf("ValidName(%q) accepted an empty, absolute or backslash name", name)
		}
		for elem := range strings.SplitSeq(rest, "/") {
			if len(elem) > maxElemLen {
				t.Fatalf("ValidName(%q) accepted a %d-byte element", name, len(elem))
			}
		}
		if path.Clean(rest) != rest {
			t.Fatalf("ValidName(%q) accepted a non-canonical name", name)
		}
		if !filepath.IsLocal(filepath.FromSlash(rest)) {
			t.Fatalf("ValidName(%q) accepted a non-local name", name)
		}
		joined := filepath.Join(base, filepath.FromSlash(rest))
		if !strings.HasPrefix(joined, base+string(filepath.Separator)) {
			t.Fatalf("ValidName(%q) accepted a name that joins to %s", name, joined)
		}
	})
}

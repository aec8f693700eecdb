package archive

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
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
		"a\nb", "a\rb", "a\x7fb", "a\u0085b", "\xff\xfe", strings.Repeat("a", 256),
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

func TestLooksLikeZip(t *testing.T) {
	tests := []struct {
		head string
		want bool
	}{
		{"PK\x03\x04", true},
		{"PK\x03\x04rest", true},
		{"PK\x05\x06", true},
		{"PK\x01\x02", false},
		{"PK\x03", false},
		{"", false},
		{"SQLite format 3\x00", false},
		{"\x1f\x8b\x08\x00", false},
	}
	for _, tt := range tests {
		if got := LooksLikeZip([]byte(tt.head)); got != tt.want {
			t.Errorf("LooksLikeZip(%q) = %v, want %v", tt.head, got, tt.want)
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
	for _, s := range []string{"data.db", "a/b/", "../x", "/abs", "a//b", `a\b`, "a\x00", ".", "a/./b", "ü/ß"} {
		f.Add(s)
	}
	base := filepath.FromSlash("/base/dest")
	f.Fuzz(func(t *testing.T, name string) {
		if !ValidName(name) {
			return
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

package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// hexSum is data's lowercase hex SHA-256.
func hexSum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// putDigest stores data under key with its digest handed to the writer.
// It skips the test when the store keeps no digests.
func putDigest(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	w, err := s.NewWriter(t.Context(), key)
	if err != nil {
		t.Fatalf("NewWriter(%q): %v", key, err)
	}
	defer w.Abort()
	dw, ok := w.(storage.DigestWriter)
	if !ok {
		t.Skip("the store's writer is no storage.DigestWriter: it keeps no digests")
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", key, err)
	}
	if err := dw.SetSHA256(hexSum(data)); err != nil {
		t.Fatalf("SetSHA256(%q): %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

// wantDigest fails unless the object's digest is want, or, when orEmpty,
// unknown ("" — a store that does not hash on its own).
func wantDigest(t *testing.T, o storage.Object, want string, orEmpty bool, what string) {
	t.Helper()
	if o.SHA256 == want || (orEmpty && o.SHA256 == "") {
		return
	}
	t.Errorf("%s: SHA256 of %q = %q, want %q", what, o.Key, o.SHA256, want)
}

// testDigests: a digest handed to the writer comes back from List and
// Stat; no digest sidecar is listed as an object; a digest leaves with its
// object and never sticks to a later object of the same key.
func testDigests(t *testing.T, s storage.Store) {
	a := []byte("PK\x03\x04 the first object, with a digest")
	putDigest(t, s, "a.zip", a)
	put(t, s, "plain.zip", []byte("PK\x03\x04 no digest given"))

	m := list(t, s)
	if len(m) != 2 {
		t.Fatalf("List = %q, want [a.zip plain.zip] (digests are never objects)", keys(m))
	}
	wantDigest(t, m["a.zip"], hexSum(a), false, "List")
	wantDigest(t, m["plain.zip"], hexSum([]byte("PK\x03\x04 no digest given")), true, "List")
	o, err := s.Stat(t.Context(), "a.zip")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	wantDigest(t, o, hexSum(a), false, "Stat")

	// Gone with its object, and not inherited by the next one.
	if err := s.Delete(t.Context(), "a.zip"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if m := list(t, s); len(m) != 1 {
		t.Fatalf("after Delete, List = %q, want [plain.zip]", keys(m))
	}
	b := bytes.Repeat([]byte{0x5a}, len(a)) // the same size: only the digest tells them apart
	put(t, s, "a.zip", b)
	if o, err = s.Stat(t.Context(), "a.zip"); err != nil {
		t.Fatalf("Stat: %v", err)
	}
	wantDigest(t, o, hexSum(b), true, "Stat after delete and rewrite")
	wantDigest(t, list(t, s)["a.zip"], hexSum(b), true, "List after delete and rewrite")
}

// testDigestRules: a malformed digest is refused, and SetSHA256 after
// Commit fails.
func testDigestRules(t *testing.T, s storage.Store) {
	w, err := s.NewWriter(t.Context(), "rules.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	defer w.Abort()
	dw, ok := w.(storage.DigestWriter)
	if !ok {
		t.Skip("the store's writer is no storage.DigestWriter: it keeps no digests")
	}
	for _, bad := range []string{"", "abc", hexSum(nil)[:63] + "G", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"} {
		wantKind(t, dw.SetSHA256(bad), shared.ErrInvalid, "SetSHA256(%q)", bad)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := dw.SetSHA256(hexSum([]byte("x"))); err == nil {
		t.Error("SetSHA256 after Commit: no error")
	}
}

// Package storagetest is the conformance suite for storage.Store: every
// implementation runs the same subtests, so they all keep one contract.
//
//	func TestMyStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return openFresh(t) })
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Run runs the suite. Each subtest calls open for a fresh, empty store and
// closes it when the subtest ends (open must not close it itself). Subtests
// run in parallel, so open may be called concurrently.
//
// Beyond the Store doc comments, the suite fixes these choices:
//   - reading from an offset at or past the end of an object gives an empty
//     reader and no error; a negative offset is ErrInvalid;
//   - a failed Commit leaves nothing (the caller need not Abort);
//   - Commit never replaces an object: over an existing key it fails
//     wrapping ErrExists and the existing object is untouched;
//   - Abort after Commit or Abort does nothing and returns nil, so
//     `defer w.Abort()` is safe; Write or Commit after either fails;
//   - a store whose writers are storage.DigestWriters returns the digest
//     given from List and Stat, never lists where it keeps it, and forgets
//     it with the object; an object written without one has no digest or
//     its true one (the Digests subtests are skipped for other stores).
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"EmptyList", testEmptyList},
		{"WriteCommitListStat", testWriteCommitListStat},
		{"EmptyObject", testEmptyObject},
		{"NotVisibleBeforeCommit", testNotVisibleBeforeCommit},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"CancelMidWriteThenAbort", testCancelMidWriteThenAbort},
		{"CommitAfterCancelFails", testCommitAfterCancelFails},
		{"FinishedWriter", testFinishedWriter},
		{"NoReplace", testNoReplace},
		{"RacingCommits", testRacingCommits},
		{"RangeReads", testRangeReads},
		{"ReadMissing", testReadMissing},
		{"DeleteThenStat", testDeleteThenStat},
		{"DeleteMissing", testDeleteMissing},
		{"InvalidKeys", testInvalidKeys},
		{"KeysAtTheLimits", testKeysAtTheLimits},
		{"LargeObject", testLargeObject},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ListManyObjects", testListManyObjects},
		{"Pins", testPins},
		{"Digests", testDigests},
		{"DigestRules", testDigestRules},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// put stores data under key and fails the test if it cannot.
func put(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	w, err := s.NewWriter(t.Context(), key)
	if err != nil {
		t.Fatalf("NewWriter(%q): %v", key, err)
	}
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write(%q) = %d, %v; want %d, nil", key, n, err, len(data))
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

// read returns length bytes of key from offset.
func read(ctx context.Context, s storage.Store, key string, offset, length int64) ([]byte, error) {
	r, err := s.NewRangeReader(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	return data, errors.Join(err, r.Close())
}

// get returns all of key and fails the test if it cannot.
func get(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	data, err := read(t.Context(), s, key, 0, -1)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

// list returns the objects in s by key and fails the test if List fails or
// returns a key twice.
func list(t *testing.T, s storage.Store) map[string]storage.Object {
	t.Helper()
	objs, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	m := make(map[string]storage.Object, len(objs))
	for _, o := range objs {
		if _, dup := m[o.Key]; dup {
			t.Errorf("List returned %q twice", o.Key)
		}
		m[o.Key] = o
	}
	return m
}

// keys returns the sorted keys of m.
func keys(m map[string]storage.Object) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// wantNothing checks that s lists nothing and that key is not there.
func wantNothing(t *testing.T, s storage.Store, key string) {
	t.Helper()
	if m := list(t, s); len(m) != 0 {
		t.Errorf("List = %q, want nothing", keys(m))
	}
	_, err := s.Stat(t.Context(), key)
	wantKind(t, err, shared.ErrNotFound, "Stat(%q)", key)
	_, err = read(t.Context(), s, key, 0, -1)
	wantKind(t, err, shared.ErrNotFound, "read(%q)", key)
}

// wantKind checks that err wraps kind; what names the call.
func wantKind(t *testing.T, err, kind error, what string, args ...any) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: error %v, want one wrapping %q", fmt.Sprintf(what, args...), err, kind)
	}
}

// wantObject checks an object's key and size and that it was modified
// within a minute of now.
func wantObject(t *testing.T, o storage.Object, key string, size int64) {
	t.Helper()
	if o.Key != key || o.Size != size {
		t.Errorf("object = {%q, %d}, want {%q, %d}", o.Key, o.Size, key, size)
	}
	if d := time.Since(o.Modified); d > time.Minute || d < -time.Minute {
		t.Errorf("object %q modified %v, want within a minute of now", key, o.Modified)
	}
}

// wantBytes compares contents without printing megabytes.
func wantBytes(t *testing.T, got, want []byte, what string) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

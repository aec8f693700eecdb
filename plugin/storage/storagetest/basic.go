package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

func testEmptyList(t *testing.T, s storage.Store) {
	objs, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(objs) != 0 {
		t.Errorf("List = %v, want nothing", objs)
	}
}

func testWriteCommitListStat(t *testing.T, s storage.Store) {
	data := []byte("PK\x03\x04 not really a zip, but bytes all the same")
	put(t, s, "backup.zip", data)

	m := list(t, s)
	if len(m) != 1 {
		t.Fatalf("List = %q, want [backup.zip]", keys(m))
	}
	wantObject(t, m["backup.zip"], "backup.zip", int64(len(data)))

	o, err := s.Stat(t.Context(), "backup.zip")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	wantObject(t, o, "backup.zip", int64(len(data)))
	if !o.Modified.Equal(m["backup.zip"].Modified) {
		t.Errorf("Stat modified %v, List modified %v", o.Modified, m["backup.zip"].Modified)
	}
	wantBytes(t, get(t, s, "backup.zip"), data, "read back")
}

func testEmptyObject(t *testing.T, s storage.Store) {
	put(t, s, "empty", nil)
	o, err := s.Stat(t.Context(), "empty")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	wantObject(t, o, "empty", 0)
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Errorf("read back %d bytes, want 0", len(got))
	}
	if m := list(t, s); len(m) != 1 {
		t.Errorf("List = %q, want [empty]", keys(m))
	}
}

func testNotVisibleBeforeCommit(t *testing.T, s storage.Store) {
	w, err := s.NewWriter(t.Context(), "pending.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	defer w.Abort()
	data := bytes.Repeat([]byte("pending "), 128<<10) // 1 MiB: past any buffering
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantNothing(t, s, "pending.zip") // nor any temp file
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if m := list(t, s); len(m) != 1 {
		t.Errorf("after Commit, List = %q, want [pending.zip]", keys(m))
	}
	wantBytes(t, get(t, s, "pending.zip"), data, "read back")
}

func testAbortLeavesNothing(t *testing.T, s storage.Store) {
	w, err := s.NewWriter(t.Context(), "aborted.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantNothing(t, s, "aborted.zip")
}

func testCancelMidWriteThenAbort(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.NewWriter(ctx, "cancelled.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	chunk := bytes.Repeat([]byte("c"), 1<<20)
	if _, err := w.Write(chunk); err != nil {
		t.Fatalf("Write before cancel: %v", err)
	}
	cancel()
	_, _ = w.Write(chunk) // may fail or not; either is fine
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	wantNothing(t, s, "cancelled.zip")
}

func testCommitAfterCancelFails(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.NewWriter(ctx, "cancelled.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("c"), 1<<20)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	cancel()
	err = w.Commit()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit after cancel: error %v, want one wrapping context.Canceled", err)
	}
	wantNothing(t, s, "cancelled.zip") // without calling Abort
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after failed Commit: %v", err)
	}
}

func testFinishedWriter(t *testing.T, s storage.Store) {
	w, err := s.NewWriter(t.Context(), "done.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if _, err := w.Write([]byte("done")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v, want nil", err)
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Errorf("Write after Commit succeeded")
	}
	if err := w.Commit(); err == nil {
		t.Errorf("second Commit succeeded")
	}
	wantBytes(t, get(t, s, "done.zip"), []byte("done"), "after Abort following Commit")

	w, err = s.NewWriter(t.Context(), "gone.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v, want nil", err)
	}
	if err := w.Commit(); err == nil {
		t.Errorf("Commit after Abort succeeded")
	}
	if _, err := s.Stat(t.Context(), "gone.zip"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("Stat after Commit following Abort: %v, want ErrNotFound", err)
	}
}

// testNoReplace: commit refuses to replace an existing key; the existing
// object is untouched. Two writers of one key may both write; the first to
// commit wins and the second's Commit fails wrapping ErrExists.
func testNoReplace(t *testing.T, s storage.Store) {
	first := []byte("first version")
	put(t, s, "same.zip", first)
	before := list(t, s)["same.zip"]
	second := []byte(strings.Repeat("second, longer version; ", 1000))
	w, err := s.NewWriter(t.Context(), "same.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	defer w.Abort()
	if _, err := w.Write(second); err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantBytes(t, get(t, s, "same.zip"), first, "before Commit")
	err = w.Commit()
	wantKind(t, err, shared.ErrExists, "Commit over an existing key")
	wantBytes(t, get(t, s, "same.zip"), first, "after the refused Commit")
	m := list(t, s)
	if len(m) != 1 {
		t.Fatalf("List = %q, want [same.zip]", keys(m))
	}
	if got := m["same.zip"]; got.Size != before.Size || !got.Modified.Equal(before.Modified) {
		t.Errorf("after the refused Commit the object is %+v, want %+v", got, before)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after the refused Commit: %v", err)
	}
}

// testRacingCommits: of writers of one key committing at once, exactly one
// wins, and the stored object is the winner's.
func testRacingCommits(t *testing.T, s storage.Store) {
	const writers = 4
	content := func(i int) []byte { return []byte(strings.Repeat(fmt.Sprintf("writer %d; ", i), 100+i)) }
	ws := make([]storage.Writer, writers)
	for i := range ws {
		w, err := s.NewWriter(t.Context(), "race.zip")
		if err != nil {
			t.Fatalf("NewWriter: %v", err)
		}
		defer w.Abort()
		if _, err := w.Write(content(i)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		ws[i] = w
	}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = w.Commit() })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both committed race.zip", winner, i)
		case err == nil:
			winner = i
		default:
			wantKind(t, err, shared.ErrExists, "losing Commit %d", i)
		}
	}
	if winner < 0 {
		t.Fatal("no writer committed race.zip")
	}
	wantBytes(t, get(t, s, "race.zip"), content(winner), "race.zip")
}

func testRangeReads(t *testing.T, s storage.Store) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	put(t, s, "range.bin", data)
	for _, tc := range []struct {
		offset, length int64
		want           []byte
	}{
		{0, -1, data},
		{0, 1000, data},
		{10, 20, data[10:30]},
		{990, -1, data[990:]},  // to the end
		{990, 100, data[990:]}, // length past the end is cut short
		{500, 0, nil},
		{999, 1, data[999:]},
		{1000, -1, nil}, // at the end: empty
		{1000, 5, nil},
		{5000, -1, nil}, // past the end: empty, no error
		{5000, 10, nil},
	} {
		got, err := read(t.Context(), s, "range.bin", tc.offset, tc.length)
		if err != nil {
			t.Errorf("read(%d, %d): %v", tc.offset, tc.length, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("read(%d, %d) = %d bytes %x…, want %d bytes", tc.offset, tc.length, len(got), head(got), len(tc.want))
		}
	}
	_, err := s.NewRangeReader(t.Context(), "range.bin", -1, 10)
	wantKind(t, err, shared.ErrInvalid, "NewRangeReader(offset -1)")
}

// head is the first few bytes of b, for messages.
func head(b []byte) []byte { return b[:min(len(b), 8)] }

func testReadMissing(t *testing.T, s storage.Store) {
	put(t, s, "present", []byte("here"))
	_, err := s.NewRangeReader(t.Context(), "absent", 0, -1)
	wantKind(t, err, shared.ErrNotFound, "NewRangeReader(absent)")
	_, err = s.NewRangeReader(t.Context(), "absent", 10, 5)
	wantKind(t, err, shared.ErrNotFound, "NewRangeReader(absent, 10, 5)")
	_, err = s.Stat(t.Context(), "absent")
	wantKind(t, err, shared.ErrNotFound, "Stat(absent)")
}

func testDeleteThenStat(t *testing.T, s storage.Store) {
	put(t, s, "doomed", []byte("bye"))
	put(t, s, "kept", []byte("stay"))
	if err := s.Delete(t.Context(), "doomed"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stat(t.Context(), "doomed")
	wantKind(t, err, shared.ErrNotFound, "Stat after Delete")
	_, err = read(t.Context(), s, "doomed", 0, -1)
	wantKind(t, err, shared.ErrNotFound, "read after Delete")
	if got := keys(list(t, s)); len(got) != 1 || got[0] != "kept" {
		t.Errorf("List after Delete = %q, want [kept]", got)
	}
}

func testDeleteMissing(t *testing.T, s storage.Store) {
	wantKind(t, s.Delete(t.Context(), "never-was"), shared.ErrNotFound, "Delete(never-was)")
	put(t, s, "once", []byte("1"))
	if err := s.Delete(t.Context(), "once"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantKind(t, s.Delete(t.Context(), "once"), shared.ErrNotFound, "second Delete")
}

// invalidKeys must be refused by every method.
var invalidKeys = []string{
	"", ".", "..", "../x", "a/b", "/abs", "a\\b", ".hidden", ".tmp-123", "x.attrs",
	"a\x00b", "a\nb", "a\x7fb", "bad\xffutf8", strings.Repeat("k", 256),
	"a\u0085b", "a\u009bb", "evil\u202egpj.zip", "a\u200bb", "\ufeffa.zip", // C1 controls, format characters
}

func testInvalidKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, key := range invalidKeys {
		if storage.ValidKey(key) {
			t.Errorf("ValidKey(%q) = true", key)
		}
		_, err := s.Stat(ctx, key)
		wantKind(t, err, shared.ErrInvalid, "Stat(%q)", key)
		r, err := s.NewRangeReader(ctx, key, 0, -1)
		if err == nil {
			r.Close()
		}
		wantKind(t, err, shared.ErrInvalid, "NewRangeReader(%q)", key)
		w, err := s.NewWriter(ctx, key)
		if err == nil {
			w.Abort()
		}
		wantKind(t, err, shared.ErrInvalid, "NewWriter(%q)", key)
		wantKind(t, s.Delete(ctx, key), shared.ErrInvalid, "Delete(%q)", key)
	}
	if m := list(t, s); len(m) != 0 {
		t.Errorf("List = %q, want nothing", keys(m))
	}
}

func testKeysAtTheLimits(t *testing.T, s storage.Store) {
	valid := []string{
		strings.Repeat("k", 255),
		"pb_backup_20240102030405.zip",
		"with space & symbols +=,;@!~'()[]{}%$#.zip",
		"résumé-バックアップ.zip",
		"x.attrs.zip",
		"a..b",
		"trailing.",
	}
	for _, key := range valid {
		if !storage.ValidKey(key) {
			t.Errorf("ValidKey(%q) = false", key)
			continue
		}
		put(t, s, key, []byte(key))
	}
	m := list(t, s)
	for _, key := range valid {
		if _, ok := m[key]; !ok {
			t.Errorf("List lacks %q", key)
			continue
		}
		wantBytes(t, get(t, s, key), []byte(key), key)
	}
	if len(m) != len(valid) {
		t.Errorf("List = %q, want %d keys", keys(m), len(valid))
	}
}

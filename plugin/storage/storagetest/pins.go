package storagetest

import (
	"context"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// testPins checks a storage.Pinner (skipped for stores that are not):
// the pin shows in List and Stat, is never listed as an object of its
// own, survives nothing but its object (a new object of the same key
// starts unpinned), and an unknown key is ErrNotFound.
func testPins(t *testing.T, s storage.Store) {
	p, ok := s.(storage.Pinner)
	if !ok {
		t.Skip("the store keeps no pins (not a storage.Pinner)")
	}
	ctx := context.Background()
	long := strings.Repeat("p", storage.MaxKeyLen-4) + ".zip"
	put(t, s, "a.zip", []byte("aaa"))
	put(t, s, "b.zip", []byte("bbb"))
	put(t, s, long, []byte("long"))
	wantKind(t, p.SetPinned(ctx, "missing.zip", true), shared.ErrNotFound, "pin of a missing key")
	for _, key := range []string{"a.zip", long} {
		if err := p.SetPinned(ctx, key, true); err != nil {
			t.Fatalf("pin %q: %v", key, err)
		}
	}
	if err := p.SetPinned(ctx, "a.zip", true); err != nil {
		t.Fatalf("pin twice: %v", err)
	}
	objs := list(t, s)
	if got := keys(objs); len(got) != 3 {
		t.Fatalf("List after pins: %v (a pin listed as an object?)", got)
	}
	if !objs["a.zip"].Pinned || !objs[long].Pinned || objs["b.zip"].Pinned {
		t.Fatalf("List pins: a=%v long=%v b=%v", objs["a.zip"].Pinned, objs[long].Pinned, objs["b.zip"].Pinned)
	}
	for key, want := range map[string]bool{"a.zip": true, "b.zip": false} {
		o, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if o.Pinned != want {
			t.Fatalf("Stat(%q).Pinned = %v, want %v", key, o.Pinned, want)
		}
	}
	if err := p.SetPinned(ctx, long, false); err != nil {
		t.Fatalf("unpin: %v", err)
	}
	if err := p.SetPinned(ctx, "b.zip", false); err != nil {
		t.Fatalf("unpin of an unpinned key: %v", err)
	}
	if o, err := s.Stat(ctx, long); err != nil || o.Pinned {
		t.Fatalf("after unpin: %+v %v", o, err)
	}
	// The pin goes with its object.
	if err := s.Delete(ctx, "a.zip"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "a.zip", []byte("new"))
	if o, err := s.Stat(ctx, "a.zip"); err != nil || o.Pinned {
		t.Fatalf("a new object under a deleted pinned key: %+v %v", o, err)
	}
	if objs := list(t, s); objs["a.zip"].Pinned {
		t.Fatal("a new object under a deleted pinned key is listed pinned")
	}
}

package plugintest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/pocketbackup/pocketbackup/shared"
)

// testPins checks pins through shared.Pinner when the implementation is
// one: List and Stat report them, an unknown key is ErrNotFound, and a
// storage that keeps no pins answers ErrUnsupported (the test then skips).
func testPins(t *testing.T, tg Target) {
	p, ok := tg.Backups.(shared.Pinner)
	if !ok {
		t.Skip("not a shared.Pinner")
	}
	ctx := context.Background()
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "p.zip", bytes.NewReader(makeZip(t, map[string]string{"data.db": "x"}))); err != nil {
		t.Fatal(err)
	}
	info, err := p.SetPinned(ctx, tg.StorageURL, "p.zip", true)
	if errors.Is(err, shared.ErrUnsupported) {
		t.Skipf("the storage keeps no pins: %v", err)
	}
	if err != nil || !info.Pinned || info.Key != "p.zip" {
		t.Fatalf("SetPinned: %+v %v", info, err)
	}
	if _, err := p.SetPinned(ctx, tg.StorageURL, "missing.zip", true); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("pin of a missing key: %v, want ErrNotFound", err)
	}
	list, err := tg.Backups.List(ctx, tg.StorageURL)
	if err != nil || len(list) != 1 || !list[0].Pinned {
		t.Fatalf("List: %+v %v", list, err)
	}
	if info, err := p.SetPinned(ctx, tg.StorageURL, "p.zip", false); err != nil || info.Pinned {
		t.Fatalf("unpin: %+v %v", info, err)
	}
	if info, err := tg.Backups.Stat(ctx, tg.StorageURL, "p.zip"); err != nil || info.Pinned {
		t.Fatalf("Stat after unpin: %+v %v", info, err)
	}
	if err := tg.Backups.Delete(ctx, tg.StorageURL, "p.zip"); err != nil {
		t.Fatal(err)
	}
}

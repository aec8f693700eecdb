package storage

import (
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/internal/simdisk"
)

// TestLocalWriterPacesWriteback: a big archive is handed to write-back
// window by window, and each window waits for the one before, so never
// more than two windows (and one Write's bytes) are in the disk's queue,
// where the app's commits would wait behind them.
func TestLocalWriterPacesWriteback(t *testing.T) {
	var p pacing
	s := &localStore{dir: simStore, fsys: simFS{d: simdisk.NewDirs(nil, simStore), pacing: &p}}
	const write = 1 << 20
	size := 12*durable.PaceWindow + 123
	if err := commitChunks(t.Context(), s, "big.zip", strings.Repeat("z", size), write); err != nil {
		t.Fatal(err)
	}
	if p.started < int64(size)-durable.PaceWindow {
		t.Fatalf("handed %d of %d bytes to write-back", p.started, size)
	}
	if p.waited < p.started-2*durable.PaceWindow-write {
		t.Fatalf("waited for %d of the %d bytes handed to write-back", p.waited, p.started)
	}
	if limit := int64(2*durable.PaceWindow + write); p.maxInFlight > limit {
		t.Fatalf("%d bytes in flight at once, want at most %d", p.maxInFlight, limit)
	}
}

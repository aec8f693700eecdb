package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lyingZip holds one deflated entry "big" of 100,000 incompressible bytes
// followed by "after"; tests patch the first entry's central record.
func lyingZip(t *testing.T) []byte {
	return buildZip(t, zipEntry{name: "big", body: pseudoRandom(100_000, 7)}, file("after", "after"))
}

func TestExtractRejectsLyingEntries(t *testing.T) {
	tests := []struct {
		name     string
		field    int
		value    uint32
		want     string
		maxBytes int64 // the most "big" may hold after the failure
	}{
		{"claims fewer bytes", cdUncompressed, 1000, "more data than declared", 1000},
		{"claims more bytes", cdUncompressed, 200_000, "unexpected EOF", 200_000},
		{"wrong CRC", cdCRC, 0xdeadbeef, "checksum", 100_000},
		{"zero CRC", cdCRC, 0, "checksum", 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := patchCentral(t, lyingZip(t), 0, tt.field, tt.value)
			if _, err := Check(bytes.NewReader(z), int64(len(z)), Limits{}); err != nil {
				t.Fatalf("Check reads the central directory only and should pass: %v", err)
			}
			parent, dest := stagingDir(t)
			_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Extract: err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Extract: err = %v, want it to say %q", err, tt.want)
			}
			assertContained(t, parent)
			if info, err := os.Stat(filepath.Join(dest, "big")); err == nil && info.Size() > tt.maxBytes {
				t.Errorf("big holds %d bytes, more than the %d declared", info.Size(), tt.maxBytes)
			}
			if _, err := os.Stat(filepath.Join(dest, "after")); err == nil {
				t.Error("Extract went on past a failed entry")
			}
		})
	}
}

// TestExtractCRCWithoutDescriptor covers a stored entry with no data
// descriptor, whose CRC archive/zip checks only when non-zero.
func TestExtractCRCWithoutDescriptor(t *testing.T) {
	body := []byte("content whose CRC is not zero")
	z := buildZip(t, zipEntry{name: "x", raw: true, body: body,
		rawHeader: zipHeaderStore(uint64(len(body)), 0)})
	_, dest := stagingDir(t)
	_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "CRC-32") {
		t.Fatalf("Extract: err = %v, want ErrInvalid for the CRC-32", err)
	}
}

func TestExtractNeedsEmptyDest(t *testing.T) {
	z, _ := pocketBaseZip(t)
	_, dest := stagingDir(t)
	if err := os.WriteFile(filepath.Join(dest, "data.db"), []byte("live"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil)
	if err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("Extract into a non-empty dest: err = %v, want a non-ErrInvalid error", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "data.db")); string(b) != "live" {
		t.Errorf("Extract overwrote an existing file: %q", b)
	}
	if _, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), filepath.Join(dest, "missing"), Limits{}, nil); err == nil {
		t.Error("Extract into a missing dest succeeded")
	}
}

func TestExtractCancelled(t *testing.T) {
	z := buildZip(t, zipEntry{name: "a", body: pseudoRandom(4<<20, 3)}, file("b", "b"))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, dest := stagingDir(t)
	if _, err := Extract(ctx, bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Extract with a cancelled ctx: err = %v, want context.Canceled", err)
	}

	// Cancelled mid-copy, from the first progress report.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, dest = stagingDir(t)
	_, err := Extract(ctx, bytes.NewReader(z), int64(len(z)), dest, Limits{}, func(done, total int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract cancelled mid-copy: err = %v, want context.Canceled", err)
	}
	if info, err := os.Stat(filepath.Join(dest, "a")); err != nil || info.Size() >= 4<<20 {
		t.Errorf("Extract did not stop mid-copy: %v, %v", info, err)
	}
}

func TestExtractProgress(t *testing.T) {
	z := buildZip(t, zipEntry{name: "a", body: pseudoRandom(3<<20+5, 4)}, file("b", "bee"), zipEntry{name: "c/"})
	_, dest := stagingDir(t)
	var calls [][2]int64
	_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	})
	if err != nil {
		t.Fatal(err)
	}
	checkProgress(t, calls, 3<<20+5+3)
}

// checkProgress asserts reports rise, come about once a MiB, and end at
// total/total.
func checkProgress(t *testing.T, calls [][2]int64, total int64) {
	t.Helper()
	if len(calls) == 0 {
		t.Fatal("no progress reported")
	}
	if last := calls[len(calls)-1]; last != [2]int64{total, total} {
		t.Errorf("final progress = %v, want [%d %d]", last, total, total)
	}
	if max := total/progressStep + 2; int64(len(calls)) > max {
		t.Errorf("%d progress reports for %d bytes, want at most %d", len(calls), total, max)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] || calls[i][0] > calls[i][1] {
			t.Errorf("progress report %d = %v after %v", i, calls[i], calls[i-1])
		}
	}
}

// RootFilesDone comes once, when every root file is whole on disk, and
// never for an archive whose root file fails.
func TestExtractRootFilesDone(t *testing.T) {
	big := pseudoRandom(3<<20, 7)
	z := buildZip(t,
		zipEntry{name: "data.db", body: big}, file("auxiliary.db", "aux"),
		file("storage/a/1.txt", "one"), zipEntry{name: "storage/b/2.bin", body: pseudoRandom(2<<20, 8)},
		file("later.db", "last root file, after the folders"))
	_, dest := stagingDir(t)
	calls := 0
	_, err := ExtractWith(context.Background(), bytes.NewReader(z), int64(len(z)), dest, ExtractOptions{
		RootFilesDone: func() {
			calls++
			for name, want := range map[string]int{"data.db": len(big), "auxiliary.db": 3, "later.db": 33} {
				if info, err := os.Stat(filepath.Join(dest, name)); err != nil || info.Size() != int64(want) {
					t.Errorf("RootFilesDone with %s %v, %v; want %d bytes", name, info, err, want)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("RootFilesDone called %d times, want 1", calls)
	}

	t.Run("no root files", func(t *testing.T) {
		z := buildZip(t, file("storage/x", "x"))
		_, dest := stagingDir(t)
		calls := 0
		if _, err := ExtractWith(context.Background(), bytes.NewReader(z), int64(len(z)), dest, ExtractOptions{RootFilesDone: func() { calls++ }}); err != nil {
			t.Fatal(err)
		}
		if calls != 1 {
			t.Fatalf("RootFilesDone called %d times, want 1", calls)
		}
	})
	t.Run("a root file fails", func(t *testing.T) {
		z := patchCentral(t, buildZip(t, file("data.db", "content"), file("storage/x", "x")), 0, cdCRC, 0xdeadbeef)
		_, dest := stagingDir(t)
		calls := 0
		if _, err := ExtractWith(context.Background(), bytes.NewReader(z), int64(len(z)), dest, ExtractOptions{RootFilesDone: func() { calls++ }}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Extract = %v, want ErrInvalid", err)
		}
		if calls != 0 {
			t.Fatalf("RootFilesDone called %d times for a failed root file", calls)
		}
	})
}

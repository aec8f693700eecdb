package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

// FuzzVerify: verifying any bytes never panics, rejects only with
// ErrInvalid, and never passes an archive that Extract then refuses: what
// verify calls good restores.
func FuzzVerify(f *testing.F) {
	f.Add(buildZip(f, file("data.db", "db"), file("storage/a.txt", "hello hello hello")))
	f.Add(buildZip(f, file("data.db", "db"))[:20])
	limits := Limits{MaxEntries: 32, MaxTotalBytes: 1 << 20, MaxRatio: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Verify(context.Background(), bytes.NewReader(data), int64(len(data)), limits, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify rejected without ErrInvalid: %v", err)
			}
			return
		}
		_, dest := stagingDir(t)
		if _, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), dest, limits, nil); err != nil {
			t.Fatalf("Verify passed what Extract refuses: %v", err)
		}
	})
}

// TestVerifyNamesTheEntry: a flipped byte in an entry's data fails Verify
// with the entry's name; a sound archive passes and reports its entries.
func TestVerifyNamesTheEntry(t *testing.T) {
	body := []byte("some text to check, stored as it is")
	stored := zipEntry{name: "storage/a.txt", body: body, raw: true,
		rawHeader: zip.FileHeader{Method: zip.Store, CRC32: crc32.ChecksumIEEE(body),
			CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))}}
	good := buildZip(t, file("data.db", "db"), stored)
	sum, err := Verify(context.Background(), bytes.NewReader(good), int64(len(good)), Limits{}, nil)
	if err != nil || sum.Entries != 2 {
		t.Fatalf("Verify(good) = %+v, %v", sum, err)
	}
	bad := bytes.Clone(good)
	i := bytes.Index(bad, []byte("some text"))
	if i < 0 {
		t.Fatal("entry data not found stored as is")
	}
	bad[i] ^= 0xff
	_, err = Verify(context.Background(), bytes.NewReader(bad), int64(len(bad)), Limits{}, nil)
	if !errors.Is(err, ErrInvalid) || !bytes.Contains([]byte(err.Error()), []byte(`"storage/a.txt"`)) {
		t.Fatalf("Verify(flipped) = %v, want ErrInvalid naming storage/a.txt", err)
	}
}

// TestVerifyNamesTheFirstBadEntry: entries are read on several goroutines,
// yet of several bad entries the first in the archive is named, every
// time; and the progress of a good archive reaches its total.
func TestVerifyNamesTheFirstBadEntry(t *testing.T) {
	var entries []zipEntry
	for i := range 40 {
		body := bytes.Repeat([]byte(fmt.Sprintf("entry %02d, stored as it is. ", i)), 2000)
		entries = append(entries, zipEntry{name: fmt.Sprintf("storage/%02d.txt", i), body: body, raw: true,
			rawHeader: zip.FileHeader{Method: zip.Store, CRC32: crc32.ChecksumIEEE(body),
				CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))}})
	}
	good := buildZip(t, entries...)
	var last, total int64
	sum, err := VerifyWith(context.Background(), bytes.NewReader(good), int64(len(good)),
		VerifyOptions{Progress: func(done, tot int64) { last, total = done, tot }})
	if err != nil || last != sum.TotalBytes || total != sum.TotalBytes {
		t.Fatalf("Verify(good) = %v; progress %d of %d, want %d", err, last, total, sum.TotalBytes)
	}
	bad := bytes.Clone(good)
	for _, n := range []int{7, 23, 31} {
		i := bytes.Index(bad, []byte(fmt.Sprintf("entry %02d, stored", n)))
		bad[i] ^= 0xff
	}
	for range 20 {
		_, err := VerifyWith(context.Background(), bytes.NewReader(bad), int64(len(bad)), VerifyOptions{})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"storage/07.txt"`) {
			t.Fatalf("Verify(three bad entries) = %v, want the first, storage/07.txt", err)
		}
	}
}

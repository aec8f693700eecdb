package archive

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// zipEntry is one entry for buildZip.
type zipEntry struct {
	name string
	body []byte
	mode fs.FileMode // set with SetMode when non-zero
	// raw, when set, is written as is with zip.Writer.CreateRaw; the
	// header then comes from rawHeader.
	raw       bool
	rawHeader zip.FileHeader
}

// buildZip writes entries with archive/zip's default (level 6) deflate.
func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.raw {
			h := e.rawHeader
			h.Name = e.name
			w, err := zw.CreateRaw(&h)
			if err != nil {
				t.Fatalf("create raw %q: %v", e.name, err)
			}
			if _, err := w.Write(e.body); err != nil {
				t.Fatalf("write raw %q: %v", e.name, err)
			}
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Unix(1_700_000_000, 0)}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatalf("create %q: %v", e.name, err)
		}
		if _, err := w.Write(e.body); err != nil {
			t.Fatalf("write %q: %v", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("close zip: %v", err)
	}
	return buf.Bytes()
}

// file is a shorthand for a regular file entry.
func file(name, body string) zipEntry { return zipEntry{name: name, body: []byte(body)} }

// Offsets in a central directory file header.
const (
	cdCRC          = 16
	cdCompressed   = 20
	cdUncompressed = 24
)

// patchCentral overwrites a 32-bit field of the i-th central directory
// record of a (non-zip64) archive.
func patchCentral(t testing.TB, z []byte, i, field int, v uint32) []byte {
	t.Helper()
	z = bytes.Clone(z)
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if eocd < 0 {
		t.Fatal("no end of central directory record")
	}
	off := int(binary.LittleEndian.Uint32(z[eocd+16:]))
	for ; i > 0; i-- {
		nameLen := int(binary.LittleEndian.Uint16(z[off+28:]))
		extraLen := int(binary.LittleEndian.Uint16(z[off+30:]))
		commentLen := int(binary.LittleEndian.Uint16(z[off+32:]))
		off += 46 + nameLen + extraLen + commentLen
	}
	if !bytes.Equal(z[off:off+4], []byte("PK\x01\x02")) {
		t.Fatalf("no central directory record at %d", off)
	}
	binary.LittleEndian.PutUint32(z[off+field:], v)
	return z
}

// pseudoRandom returns n bytes that do not compress.
func pseudoRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// stagingDir returns a fresh empty dest directory inside its own parent,
// so tests can see whether anything was created beside it.
func stagingDir(t testing.TB) (parent, dest string) {
	t.Helper()
	parent = t.TempDir()
	dest = filepath.Join(parent, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	return parent, dest
}

// assertContained fails if parent holds anything but dest, or dest holds
// anything but regular files and directories.
func assertContained(t testing.TB, parent string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "dest" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("extraction escaped: %s holds %q, want only dest", parent, names)
	}
	err = filepath.WalkDir(filepath.Join(parent, "dest"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			t.Errorf("non-regular file extracted: %s (%v)", p, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readTree returns the regular files under dir by '/'-separated relative
// name.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// zipHeaderStore is a raw stored header of size bytes with the given CRC.
func zipHeaderStore(size uint64, crc uint32) zip.FileHeader {
	return zip.FileHeader{Method: zip.Store, CRC32: crc, CompressedSize64: size, UncompressedSize64: size}
}

//lint:file-ignore SA1019 the legacy MS-DOS time and 32-bit size fields are what a raw zip header carries; archive/zip fills them the same way.

package archive

import (
	"archive/zip"
	"encoding/binary"
	"io/fs"
	"math"
	"time"
)

// Header values zip.Writer.CreateHeader sets and zip.Writer.CreateRaw
// leaves to its caller.
const (
	zipVersion20   = 20     // 2.0: deflate, directories
	zipVersion45   = 45     // 4.5: ZIP64 extensions
	flagDescriptor = 0x8    // sizes and CRC-32 follow the data
	flagUTF8       = 0x800  // the name is UTF-8
	extTimeExtraID = 0x5455 // Info-ZIP extended timestamp
)

// newHeader returns the header of a regular file entry for
// zip.Writer.CreateRaw, filled in as zip.Writer.CreateHeader would fill it
// (see TestNewHeaderMatchesCreateHeader); sizes and CRC-32 are left to the
// caller.
func newHeader(name string, perm fs.FileMode, mtime time.Time, method uint16) *zip.FileHeader {
	h := &zip.FileHeader{Name: name, Method: method, Modified: mtime}
	h.SetMode(perm)
	h.CreatorVersion = h.CreatorVersion&0xff00 | zipVersion20
	h.ReaderVersion = zipVersion20
	if needsUTF8(name) {
		h.Flags |= flagUTF8
	}
	// The MS-DOS time in mtime's own zone, plus the Unix time in an
	// extended timestamp, as Info-ZIP writes them.
	h.ModifiedDate = uint16(mtime.Day() + int(mtime.Month())<<5 + (mtime.Year()-1980)<<9)
	h.ModifiedTime = uint16(mtime.Second()/2 + mtime.Minute()<<5 + mtime.Hour()<<11)
	extra := make([]byte, 9)
	binary.LittleEndian.PutUint16(extra, extTimeExtraID)
	binary.LittleEndian.PutUint16(extra[2:], 5)
	extra[4] = 1 // modification time only
	binary.LittleEndian.PutUint32(extra[5:], uint32(mtime.Unix()))
	h.Extra = extra
	return h
}

// needsUTF8 reports whether a valid UTF-8 name needs the UTF-8 flag: it
// holds a character outside the part of ASCII that every legacy code page
// agrees on (archive/zip's rule).
func needsUTF8(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7d || c == '\\' {
			return true
		}
	}
	return false
}

// setSizes records the CRC-32 and sizes of an entry in h, switching it to
// ZIP64 when a size needs it, as zip.Writer does when it closes an entry.
func setSizes(h *zip.FileHeader, crc uint32, compressed, uncompressed uint64) {
	h.CRC32 = crc
	h.CompressedSize64 = compressed
	h.UncompressedSize64 = uncompressed
	if compressed >= math.MaxUint32 || uncompressed >= math.MaxUint32 {
		h.CompressedSize = math.MaxUint32
		h.UncompressedSize = math.MaxUint32
		h.ReaderVersion = zipVersion45
	} else {
		h.CompressedSize = uint32(compressed)
		h.UncompressedSize = uint32(uncompressed)
	}
}

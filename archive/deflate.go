package archive

import (
	"hash/crc32"
	"os"

	"github.com/klauspost/compress/flate"

	"github.com/pocketbackup/pocketbackup/archive/internal/isal"
)

// storePercent is the deflated size, in percent of the original, above
// which a file's first chunk makes [Write] store the file instead.
const storePercent = 95

// Methods of an entry, decided from its first chunk.
const (
	methodUndecided int32 = iota
	methodDeflate
	methodStore
)

// isalLevel is the igzip level used when ISA-L is on the machine: on
// SQLite pages of text it deflates to the size of klauspost's level 1
// (29.1% against 29.2% on the bench's data.db) about twice as fast.
const isalLevel = 2

// DeflateEngine names what [Write] deflates with: "isa-l" (Intel's igzip,
// through libisal.so.2, when the machine has it) or "go"
// (github.com/klauspost/compress/flate). The environment variable
// POCKETBACKUP_DEFLATE=go forces the pure-Go engine.
func DeflateEngine() string {
	if useISAL {
		return "isa-l"
	}
	return "go"
}

// useISAL: igzip is loaded and not turned off.
var useISAL = isal.Available() && os.Getenv("POCKETBACKUP_DEFLATE") != "go"

// chunkDeflater compresses chunks for one worker goroutine: plain Deflate
// (method 8) that any zip reader inflates. It uses ISA-L's igzip if fast,
// else (and for any chunk igzip fails on)
// github.com/klauspost/compress/flate at level 1, two to three times
// faster than compress/flate at the same level and about the same size.
type chunkDeflater struct {
	fw   *flate.Writer
	out  appendWriter
	fast *isal.Deflater // nil: klauspost only
}

func newChunkDeflater(fast bool) *chunkDeflater {
	d := &chunkDeflater{}
	d.fw, _ = flate.NewWriter(&d.out, flate.BestSpeed) // a valid level: no error
	if fast {
		d.fast, _ = isal.NewDeflater(isalLevel) // nil on failure: klauspost does it all
	}
	return d
}

// close frees the igzip stream, which lives in C memory.
func (d *chunkDeflater) close() {
	if d.fast != nil {
		d.fast.Close()
	}
}

// sampleSize is how much of a file's first chunk is deflated to decide
// whether to store the file: enough to see past a header, little enough
// that a photo costs almost no compression time.
const sampleSize = 64 << 10

// process checksums c and, unless its file is stored, deflates it. The
// first chunk of a file decides the file's method from its first sampleSize
// bytes.
//
// Each chunk is deflated on its own, with no reference to the chunks before
// it: a chunk that does not end its file ends with a sync flush (an empty
// stored block, byte-aligned), the last one with a final block, so the
// chunks of a file put end to end form one valid deflate stream.
func (d *chunkDeflater) process(c *chunk) {
	c.crc = crc32.ChecksumIEEE(c.raw)
	if c.seq > 0 && c.file.method.Load() == methodStore {
		return
	}
	if c.seq == 0 {
		sample := c.raw[:min(len(c.raw), sampleSize)]
		comp, err := d.deflate(c.buf.comp[:0], sample, c.last && len(sample) == len(c.raw))
		c.buf.comp = comp[:0] // keep what it grew to
		if err != nil {
			c.err = err
			return
		}
		if int64(len(comp))*100 > int64(len(sample))*storePercent {
			c.file.method.Store(methodStore)
			return
		}
		if len(sample) == len(c.raw) { // the sample was the whole chunk
			c.file.method.Store(methodDeflate)
			c.comp, c.deflated = comp, true
			return
		}
	}
	comp, err := d.deflate(c.buf.comp[:0], c.raw, c.last)
	c.buf.comp = comp[:0]
	if err != nil {
		c.err = err
		return
	}
	c.comp, c.deflated = comp, true
	if c.seq == 0 {
		c.file.method.Store(methodDeflate)
	}
}

// compBuffer returns a chunk's buffer for deflated bytes, empty. With igzip
// it is allocated once at igzip's worst case for a whole chunk, so it is
// never grown: growing it chunk after chunk to the sizes files happened to
// need (a 64 KiB sample, a small file, then a whole chunk) left garbage of
// every size, and the plugin's heap grew with the data set (make bench,
// six paired runs: its anonymous memory during creates 0.4-8.8 MiB higher
// at 3 GiB than at 1.5 GiB; two pairs since: +2.3 and -0.4 MiB). It also
// spares a copy from a per-worker scratch buffer.
func compBuffer(fast bool) []byte {
	if fast {
		return make([]byte, 0, isal.Bound(chunkSize))
	}
	return nil
}

// deflate appends to dst the deflated form of raw, ending with a final
// block if last and with a sync flush otherwise.
func (d *chunkDeflater) deflate(dst, raw []byte, last bool) ([]byte, error) {
	if d.fast != nil {
		// igzip writes straight into the chunk's buffer, which it wants
		// as large as its worst case: see compBuffer.
		out, err := d.fast.Deflate(dst, raw, last)
		if err == nil {
			return out, nil
		}
		// Never seen; the chunk stands alone, so klauspost can take it.
	}
	d.out.b = dst
	d.fw.Reset(&d.out)
	_, err := d.fw.Write(raw)
	if err == nil {
		if last {
			err = d.fw.Close()
		} else {
			err = d.fw.Flush()
		}
	}
	out := d.out.b
	d.out.b = nil
	return out, err // appendWriter never fails: an error is a bug
}

// appendWriter appends what is written to b.
type appendWriter struct {
	b []byte
}

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

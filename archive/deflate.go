package archive

import "hash/crc32"

// storePercent is the deflated size, in percent of the original, above
// which a file's first chunk makes [Write] store the file instead.
const storePercent = 95

// Methods of an entry, decided from its first chunk.
const (
	methodUndecided int32 = iota
	methodDeflate
	methodStore
)

// chunkDeflater compresses chunks for one worker goroutine: plain Deflate
// (method 8) that any zip reader inflates, with the compressor of the
// Write's codec.
type chunkDeflater struct {
	comp compressor
}

func newChunkDeflater(c codec) *chunkDeflater {
	return &chunkDeflater{comp: c.newCompressor()}
}

// close frees the compressor's memory (igzip's lives in C memory).
func (d *chunkDeflater) close() { d.comp.close() }

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

// deflate appends to dst the deflated form of raw, ending with a final
// block if last and with a sync flush otherwise.
func (d *chunkDeflater) deflate(dst, raw []byte, last bool) ([]byte, error) {
	return d.comp.deflate(dst, raw, last)
}

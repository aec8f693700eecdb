package archive

import (
	"archive/zip"
	"io"
)

// Engine chooses what [Write] deflates and [Extract] inflates with. Both
// write and read plain Deflate (zip method 8), so the choice changes speed
// only, never the archives either accepts.
type Engine string

const (
	// EngineAuto uses Intel ISA-L's igzip when libisal.so.2 loads on the
	// machine, and the pure-Go engine otherwise.
	EngineAuto Engine = ""
	// EngineGo uses github.com/klauspost/compress/flate even where ISA-L
	// is available.
	EngineGo Engine = "go"
)

// Name reports what e resolves to on this machine: "isa-l" (Intel's igzip,
// through libisal.so.2) or "go" (github.com/klauspost/compress/flate).
func (e Engine) Name() string { return e.codec().name() }

// DeflateEngine is EngineAuto.Name(): what [Write] and [Extract] use unless
// told otherwise.
func DeflateEngine() string { return EngineAuto.Name() }

// codec returns the implementation e names. A Write or an Extract calls it
// once and hands the result down: this is the one place the engine is
// chosen.
func (e Engine) codec() codec {
	if e != EngineGo {
		if c, ok := isalCodecIfAvailable(); ok {
			return c
		}
	}
	return goCodec{}
}

// codec is a deflate engine: what the writer's workers compress chunks
// with and what the extractor inflates entries and pieces of entries with.
// Its methods are called per chunk, per entry or per goroutine, never per
// byte.
type codec interface {
	name() string
	// newCompressor returns the compressor of one worker goroutine; the
	// worker closes it when done.
	newCompressor() compressor
	// compBuffer returns a new chunk buffer for deflated bytes, empty.
	compBuffer() []byte
	// callsC reports whether compressing calls into C, which keeps a
	// scheduler slot while it runs: Write then starts one more worker by
	// default (see compressWorkers).
	callsC() bool
	// decompressor is the zip.Decompressor for zip.Deflate entries that
	// Extract reads sequentially.
	decompressor() zip.Decompressor
	// newPieceInflater returns the inflater of one goroutine inflating
	// the pieces of a large entry (see inflateParallel); closed when done.
	newPieceInflater() pieceInflater
	// newReader returns a sequential inflater of the raw deflate stream
	// in r, whose history ends with history.
	newReader(r io.Reader, history []byte) io.Reader
}

// compressor deflates chunks for one goroutine.
type compressor interface {
	// deflate appends to dst the deflated form of raw as a stream of its
	// own, ending with a final block if last and with a sync flush
	// otherwise.
	deflate(dst, raw []byte, last bool) ([]byte, error)
	close()
}

// pieceInflater inflates segments for one goroutine.
type pieceInflater interface {
	// inflate inflates s.in on its own into s.buf.out (of capacity at
	// least segMaxOut+1) and, if the result is what a sequential inflater
	// would produce there (see the top of inflate_parallel.go), sets s.ok,
	// s.out and s.crc.
	inflate(s *segment)
	close()
}

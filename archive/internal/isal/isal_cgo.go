//go:build cgo && linux

package isal

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "isal_abi.h"

static void (*pb_deflate_init)(struct pb_isal_zstream *);
static int (*pb_deflate)(struct pb_isal_zstream *);
static void (*pb_inflate_init)(struct pb_inflate_state *);
static int (*pb_inflate)(struct pb_inflate_state *);
static int (*pb_inflate_set_dict)(struct pb_inflate_state *, uint8_t *, uint32_t);

// pb_has_avx: the CPU has AVX, so vzeroupper may be run.
static int pb_has_avx;

// pb_clean_upper clears the upper halves of the vector registers after a
// call into libisal. Its AVX-512 code may return with them dirty; until
// they are cleared every SSE instruction this thread runs next (Go's
// SHA-NI SHA-256, its CRC-32, its memmove) pays a state-transition
// penalty that makes it many times slower.
static inline void pb_clean_upper(void) {
#if defined(__x86_64__)
	if (pb_has_avx) {
		__asm__ volatile("vzeroupper" ::: "memory");
	}
#endif
}

// pb_upper_in_use reports whether the calling thread's upper vector
// state is dirty: the XINUSE bits (xgetbv(1)) of the upper halves of
// ymm0-15 and zmm0-15, the state SSE instructions pay to move past. 1
// dirty, 0 clean, -1 when the CPU cannot say (no AVX, or no xgetbv(1)).
static int pb_upper_in_use(void) {
#if defined(__x86_64__)
	if (!pb_has_avx) {
		return -1;
	}
	unsigned int eax, ebx, ecx, edx;
	__asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0xd), "c"(1));
	if ((eax & 4) == 0) {
		return -1;
	}
	unsigned int lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
	return (lo & 0x44) != 0;
#else
	return -1;
#endif
}

// pb_load opens libisal and resolves what the package calls; 1 on success.
static int pb_load(void) {
#if defined(__x86_64__)
	__builtin_cpu_init();
	pb_has_avx = __builtin_cpu_supports("avx");
#endif
	void *h = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return 0;
	}
	pb_deflate_init = (void (*)(struct pb_isal_zstream *))dlsym(h, "isal_deflate_init");
	pb_deflate = (int (*)(struct pb_isal_zstream *))dlsym(h, "isal_deflate");
	pb_inflate_init = (void (*)(struct pb_inflate_state *))dlsym(h, "isal_inflate_init");
	pb_inflate = (int (*)(struct pb_inflate_state *))dlsym(h, "isal_inflate");
	pb_inflate_set_dict = (int (*)(struct pb_inflate_state *, uint8_t *, uint32_t))dlsym(h, "isal_inflate_set_dict");
	if (pb_deflate_init == NULL || pb_deflate == NULL || pb_inflate_init == NULL || pb_inflate == NULL ||
			pb_inflate_set_dict == NULL) {
		dlclose(h);
		return 0;
	}
	return 1;
}

// pb_stream is a compression stream with its level buffer, in C memory.
typedef struct {
	struct pb_isal_zstream s;
	uint32_t level;
	uint32_t level_buf_size;
	uint8_t level_buf[];
} pb_stream;

static pb_stream *pb_new(uint32_t level, uint32_t level_buf_size) {
	pb_stream *p = malloc(sizeof(pb_stream) + level_buf_size);
	if (p != NULL) {
		p->level = level;
		p->level_buf_size = level_buf_size;
	}
	return p;
}

// pb_compress deflates in as one independent stream into out: ended by a
// final block if last, else by a sync flush. It returns isal_deflate's
// status and sets *in_left, *out_len and *state. No pointer into in or
// out is kept after it returns.
static int pb_compress(pb_stream *p, uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_cap,
		int last, uint32_t *in_left, uint32_t *out_len, int *state) {
	struct pb_isal_zstream *s = &p->s;
	pb_deflate_init(s);
	s->level = p->level;
	s->level_buf = p->level_buf;
	s->level_buf_size = p->level_buf_size;
	s->gzip_flag = PB_IGZIP_DEFLATE;
	s->end_of_stream = last ? 1 : 0;
	s->flush = last ? PB_NO_FLUSH : PB_SYNC_FLUSH;
	s->next_in = in;
	s->avail_in = in_len;
	s->next_out = out;
	s->avail_out = out_cap;
	int rc = pb_deflate(s);
	pb_clean_upper();
	*in_left = s->avail_in;
	*out_len = out_cap - s->avail_out;
	*state = (int)s->internal_state.state;
	s->next_in = NULL;
	s->next_out = NULL;
	return rc;
}

// Results of pb_inflate_piece.
enum { PB_PIECE_BAD = 0, PB_PIECE_BOUNDARY = 1, PB_PIECE_FINAL = 2, PB_PIECE_FULL = 3 };

// pb_inflate_piece inflates in, a piece of a raw deflate stream, with an
// empty history into out, and tells how it ended: PB_PIECE_FINAL after a
// final block; PB_PIECE_BOUNDARY if every byte of in was used, no final
// block was seen and it stopped between blocks on a byte boundary (no bit,
// no header byte pending); PB_PIECE_FULL if out filled up; else
// PB_PIECE_BAD (invalid data, a copy from before the piece, a piece cut
// inside a block).
static int pb_inflate_piece(struct pb_inflate_state *st, uint8_t *in, uint32_t in_len, uint8_t *out,
		uint32_t out_cap, uint32_t *out_len) {
	pb_inflate_init(st);
	st->crc_flag = PB_ISAL_DEFLATE;
	st->next_in = in;
	st->avail_in = in_len;
	st->next_out = out;
	st->avail_out = out_cap;
	int rc = pb_inflate(st);
	pb_clean_upper();
	*out_len = out_cap - st->avail_out;
	int result = PB_PIECE_BAD;
	if (rc == PB_ISAL_DECOMP_OK || rc == PB_ISAL_END_INPUT || rc == PB_ISAL_OUT_OVERFLOW) {
		if (st->block_state == PB_ISAL_BLOCK_FINISH) {
			result = PB_PIECE_FINAL;
		} else if (st->avail_out == 0) {
			result = PB_PIECE_FULL;
		} else if (st->avail_in == 0 && st->block_state == PB_ISAL_BLOCK_NEW_HDR && st->read_in_length == 0 &&
				st->tmp_in_size == 0 && st->bfinal == 0) {
			result = PB_PIECE_BOUNDARY;
		}
	}
	st->next_in = NULL;
	st->next_out = NULL;
	return result;
}

// pb_inflate_start begins a raw deflate stream, with dict as its history
// if dict_len > 0 (the library copies it).
static int pb_inflate_start(struct pb_inflate_state *st, uint8_t *dict, uint32_t dict_len) {
	pb_inflate_init(st);
	st->crc_flag = PB_ISAL_DEFLATE;
	if (dict_len > 0) {
		int rc = pb_inflate_set_dict(st, dict, dict_len);
		pb_clean_upper();
		return rc;
	}
	return 0;
}

// pb_inflate_more goes on with the stream: it takes what it can of in and
// fills what it can of out. Input it cannot use yet and output that does
// not fit are kept in the state, never as pointers to in or out.
static int pb_inflate_more(struct pb_inflate_state *st, uint8_t *in, uint32_t in_len, uint8_t *out,
		uint32_t out_cap, uint32_t *used, uint32_t *made, int *finished) {
	st->next_in = in;
	st->avail_in = in_len;
	st->next_out = out;
	st->avail_out = out_cap;
	int rc = pb_inflate(st);
	pb_clean_upper();
	*used = in_len - st->avail_in;
	*made = out_cap - st->avail_out;
	*finished = st->block_state == PB_ISAL_BLOCK_FINISH;
	st->next_in = NULL;
	st->next_out = NULL;
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

var loaded = sync.OnceValue(func() bool { return C.pb_load() == 1 })

// Available reports whether libisal.so.2 could be loaded.
func Available() bool { return loaded() }

// upperStateDirty reports whether the calling thread's upper vector
// registers are marked in use; ok is false when the CPU cannot tell.
// Tests call it on a locked thread right after a call into the library.
func upperStateDirty() (dirty, ok bool) {
	switch C.pb_upper_in_use() {
	case 1:
		return true, true
	case 0:
		return false, true
	}
	return false, false
}

// The levels offered, and the level buffer each needs (ISA-L's "large"
// defaults). Level 0 is left out: it has no stored-block fallback and
// grows incompressible input by a quarter.
var levelBufSize = map[int]C.uint32_t{
	1: C.PB_ISAL_DEF_LVL1_DEFAULT,
	2: C.PB_ISAL_DEF_LVL2_DEFAULT,
	3: C.PB_ISAL_DEF_LVL3_DEFAULT,
}

// ErrUnavailable is returned by [NewDeflater] without the library.
var ErrUnavailable = errors.New("isal: libisal.so.2 not loaded")

// errIncomplete means a call did not end its stream within the output
// space given.
var errIncomplete = errors.New("isal: output space exhausted")

// Deflater compresses independent deflate streams, one goroutine at a
// time. Its memory is C memory: Close frees it.
type Deflater struct {
	p *C.pb_stream
}

// NewDeflater returns a Deflater at igzip level 1 to 3.
func NewDeflater(level int) (*Deflater, error) {
	size, ok := levelBufSize[level]
	if !ok {
		return nil, fmt.Errorf("isal: no level %d", level)
	}
	if !Available() {
		return nil, ErrUnavailable
	}
	p := C.pb_new(C.uint32_t(level), size)
	if p == nil {
		return nil, errors.New("isal: out of memory")
	}
	return &Deflater{p: p}, nil
}

// Close frees the Deflater's memory.
func (d *Deflater) Close() {
	if d.p != nil {
		C.free(unsafe.Pointer(d.p))
		d.p = nil
	}
}

// Bound is the output space Deflate asks for src's length: room for
// stored blocks and their headers (5 bytes per 64 KiB), which levels 1 to
// 3 fall back to when compressing would grow the data.
func Bound(n int) int { return n + n/64 + 4096 }

// Deflate appends to dst src deflated as a stream of its own, which needs
// no history: ended by a final block if last, else by a sync flush (an
// empty stored block, whose bytes 00 00 ff ff end the output). It grows
// dst to Bound(len(src)) free bytes first.
func (d *Deflater) Deflate(dst, src []byte, last bool) ([]byte, error) {
	if d.p == nil {
		return dst, errors.New("isal: deflater closed")
	}
	if uint64(len(src)) > 1<<31 {
		return dst, errors.New("isal: input over 2 GiB")
	}
	need := Bound(len(src))
	if cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	out := dst[len(dst):cap(dst)]
	var in *C.uint8_t
	if len(src) > 0 {
		in = (*C.uint8_t)(unsafe.Pointer(&src[0]))
	}
	var inLeft, outLen C.uint32_t
	var state C.int
	lastFlag := C.int(0)
	if last {
		lastFlag = 1
	}
	rc := C.pb_compress(d.p, in, C.uint32_t(len(src)), (*C.uint8_t)(unsafe.Pointer(&out[0])), C.uint32_t(len(out)),
		lastFlag, &inLeft, &outLen, &state)
	switch {
	case rc != C.PB_COMP_OK:
		return dst, fmt.Errorf("isal: deflate failed with status %d", int(rc))
	case inLeft != 0 || int(outLen) >= len(out):
		return dst, errIncomplete
	case last && state != C.PB_ZSTATE_END:
		return dst, fmt.Errorf("isal: stream not ended (state %d)", int(state))
	}
	dst = dst[:len(dst)+int(outLen)]
	if !last && !endsWithSyncMarker(dst) {
		return dst[:len(dst)-int(outLen)], errors.New("isal: sync flush did not end the output")
	}
	return dst, nil
}

func endsWithSyncMarker(b []byte) bool {
	n := len(b)
	return n >= 4 && b[n-4] == 0 && b[n-3] == 0 && b[n-2] == 0xff && b[n-1] == 0xff
}

// Piece tells how [Inflater.Piece] ended.
type Piece int

// The ends of a piece.
const (
	PieceBad      Piece = C.PB_PIECE_BAD      // invalid, needs history, or cut inside a block
	PieceBoundary Piece = C.PB_PIECE_BOUNDARY // all used, ended between blocks on a byte, no final block
	PieceFinal    Piece = C.PB_PIECE_FINAL    // a final block ended it
	PieceFull     Piece = C.PB_PIECE_FULL     // out filled up first
)

// Inflater inflates pieces of raw deflate streams, one goroutine at a
// time. Its state is C memory: Close frees it.
type Inflater struct {
	st *C.struct_pb_inflate_state
}

// NewInflater returns an Inflater, or ErrUnavailable.
func NewInflater() (*Inflater, error) {
	if !Available() {
		return nil, ErrUnavailable
	}
	st := (*C.struct_pb_inflate_state)(C.malloc(C.sizeof_struct_pb_inflate_state))
	if st == nil {
		return nil, errors.New("isal: out of memory")
	}
	return &Inflater{st: st}, nil
}

// Close frees the Inflater's memory.
func (f *Inflater) Close() {
	if f.st != nil {
		C.free(unsafe.Pointer(f.st))
		f.st = nil
	}
}

// Piece inflates in, which must not refer to bytes before it, into
// out[:cap(out)] and returns the bytes written and how it ended.
func (f *Inflater) Piece(in, out []byte) ([]byte, Piece) {
	out = out[:cap(out)]
	if f.st == nil || len(in) == 0 || len(out) == 0 || uint64(len(in)) > 1<<31 || uint64(len(out)) > 1<<31 {
		return out[:0], PieceBad
	}
	var n C.uint32_t
	r := C.pb_inflate_piece(f.st, (*C.uint8_t)(unsafe.Pointer(&in[0])), C.uint32_t(len(in)),
		(*C.uint8_t)(unsafe.Pointer(&out[0])), C.uint32_t(len(out)), &n)
	return out[:n], Piece(r)
}

// ErrCorrupt is returned by [Reader] for data that is not valid deflate.
var ErrCorrupt = errors.New("isal: invalid deflate data")

// errStuck: igzip neither took input nor gave output; never seen.
var errStuck = errors.New("isal: inflater made no progress")

// readBufSize is what Reader reads from its source at a time.
const readBufSize = 64 << 10

// Reader inflates a raw deflate stream read from a source, like
// compress/flate's reader. It holds C memory, freed by the garbage
// collector once the Reader is unreachable; Reset reuses it.
type Reader struct {
	st     *C.struct_pb_inflate_state
	src    io.Reader
	buf    []byte
	r, w   int   // buf[r:w] is read from src and not yet given to igzip
	srcErr error // what src said last; its data may still be in buf
	err    error // sticky: io.EOF at the end of the stream
}

// NewReader returns a Reader of the deflate stream in src, whose history
// starts with dict (the last 32 KiB count), or ErrUnavailable.
func NewReader(src io.Reader, dict []byte) (*Reader, error) {
	if !Available() {
		return nil, ErrUnavailable
	}
	st := (*C.struct_pb_inflate_state)(C.malloc(C.sizeof_struct_pb_inflate_state))
	if st == nil {
		return nil, errors.New("isal: out of memory")
	}
	r := &Reader{st: st, buf: make([]byte, readBufSize)}
	runtime.AddCleanup(r, func(st *C.struct_pb_inflate_state) { C.free(unsafe.Pointer(st)) }, st)
	if err := r.Reset(src, dict); err != nil {
		return nil, err
	}
	return r, nil
}

// Reset starts reading a new stream from src, with history dict.
func (r *Reader) Reset(src io.Reader, dict []byte) error {
	r.src, r.r, r.w, r.srcErr, r.err = src, 0, 0, nil, nil
	if len(dict) > 32<<10 {
		dict = dict[len(dict)-32<<10:]
	}
	var d *C.uint8_t
	if len(dict) > 0 {
		d = (*C.uint8_t)(unsafe.Pointer(&dict[0]))
	}
	if rc := C.pb_inflate_start(r.st, d, C.uint32_t(len(dict))); rc != 0 {
		r.err = fmt.Errorf("isal: set history: status %d", int(rc))
		return r.err
	}
	return nil
}

// Read inflates into p. It returns io.EOF after the final block,
// io.ErrUnexpectedEOF if src ends before it, and an error wrapping
// ErrCorrupt for invalid data.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	p = p[:min(len(p), 1<<30)]
	for {
		if r.r == r.w && r.srcErr == nil {
			n, err := r.src.Read(r.buf)
			r.r, r.w, r.srcErr = 0, n, err
		}
		var in *C.uint8_t
		if r.w > r.r {
			in = (*C.uint8_t)(unsafe.Pointer(&r.buf[r.r]))
		}
		var used, made C.uint32_t
		var finished C.int
		rc := C.pb_inflate_more(r.st, in, C.uint32_t(r.w-r.r), (*C.uint8_t)(unsafe.Pointer(&p[0])), C.uint32_t(len(p)),
			&used, &made, &finished)
		r.r += int(used)
		n := int(made)
		switch {
		case rc < 0:
			r.err = fmt.Errorf("%w (status %d)", ErrCorrupt, int(rc))
		case finished != 0:
			r.err = io.EOF
		case n > 0:
			return n, nil
		case r.r < r.w && used > 0:
			continue
		case r.r < r.w:
			r.err = errStuck
		case r.srcErr == io.EOF:
			r.err = io.ErrUnexpectedEOF
		case r.srcErr != nil:
			r.err = r.srcErr
		default:
			continue // read more
		}
		if n > 0 {
			return n, nil // the error comes with the next call
		}
		return 0, r.err
	}
}

// Close ends the use of the stream; the Reader may be Reset after.
func (r *Reader) Close() error {
	r.src = nil
	return nil
}

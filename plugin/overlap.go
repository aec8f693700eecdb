package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// An upload's bytes are received, hashed and written to storage at once,
// on different cores: a sequential copy (receive a chunk, hash it, write
// it, wait for the disk's write-back, receive the next) keeps the host's
// stream and the disk waiting on each other and on the hash. overlapWriter
// collects what it is given into a few fixed buffers and hands each full
// one to a hashing goroutine and a writing goroutine; the buffer is reused
// once both are done with it. Memory is overlapBuffers × overlapBufSize
// whatever the upload's size.

const (
	overlapBufSize = 1 << 20
	overlapBuffers = 4
)

// overlapBuf is one buffer on its way to the hasher and the writer; the
// last of the two to finish with it returns it to the free list.
type overlapBuf struct {
	b    []byte
	refs atomic.Int32
}

// overlapWriter hashes and counts what it passes on to w, as hashingWriter
// does, with the hashing and the writes to w on goroutines of their own.
// Write never blocks for longer than it takes a buffer to come free.
// Close must be called once, always: it writes what is buffered, waits for
// both goroutines and returns the first error of w. It is not safe for
// concurrent use.
type overlapWriter struct {
	w io.Writer
	h hash.Hash

	free          chan *overlapBuf
	toHash, toOut chan *overlapBuf
	cur           *overlapBuf // being filled by Write; nil if none
	n             int64       // bytes accepted by Write
	wg            sync.WaitGroup
	closed        bool

	mu     sync.Mutex
	werr   error // first error of w; sticky
	failed atomic.Bool
}

func newOverlapWriter(w io.Writer) *overlapWriter {
	o := &overlapWriter{
		w:      w,
		h:      sha256.New(),
		free:   make(chan *overlapBuf, overlapBuffers),
		toHash: make(chan *overlapBuf, overlapBuffers),
		toOut:  make(chan *overlapBuf, overlapBuffers),
	}
	for range overlapBuffers {
		o.free <- &overlapBuf{b: make([]byte, 0, overlapBufSize)}
	}
	o.wg.Go(o.hashLoop)
	o.wg.Go(o.writeLoop)
	return o
}

func (o *overlapWriter) hashLoop() {
	for b := range o.toHash {
		o.h.Write(b.b)
		o.release(b)
	}
}

func (o *overlapWriter) writeLoop() {
	for b := range o.toOut {
		if !o.failed.Load() {
			if _, err := o.w.Write(b.b); err != nil {
				o.mu.Lock()
				o.werr = err
				o.mu.Unlock()
				o.failed.Store(true)
			}
		}
		o.release(b)
	}
}

// release hands b back to the free list once both goroutines are done.
func (o *overlapWriter) release(b *overlapBuf) {
	if b.refs.Add(-1) == 0 {
		b.b = b.b[:0]
		o.free <- b // never blocks: there are overlapBuffers places
	}
}

// err returns the first error of w, or nil.
func (o *overlapWriter) err() error {
	if !o.failed.Load() {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.werr
}

var errOverlapClosed = errors.New("write after close")

// Write implements io.Writer. An error of w is returned by a later Write
// or by Close, once seen; bytes before it are counted as accepted.
func (o *overlapWriter) Write(p []byte) (int, error) {
	if o.closed {
		return 0, errOverlapClosed
	}
	done := 0
	for done < len(p) {
		if err := o.err(); err != nil {
			return done, err
		}
		if o.cur == nil {
			o.cur = <-o.free
		}
		k := copy(o.cur.b[len(o.cur.b):cap(o.cur.b)], p[done:])
		o.cur.b = o.cur.b[:len(o.cur.b)+k]
		done += k
		o.n += int64(k)
		if len(o.cur.b) == cap(o.cur.b) {
			o.send()
		}
	}
	return done, nil
}

// send hands the current buffer to both goroutines.
func (o *overlapWriter) send() {
	b := o.cur
	o.cur = nil
	b.refs.Store(2)
	o.toHash <- b
	o.toOut <- b
}

// Close writes what is buffered, waits until w has all of it and the hash
// is complete, and returns the first error of w.
func (o *overlapWriter) Close() error {
	if o.closed {
		return errOverlapClosed
	}
	o.closed = true
	if o.cur != nil && len(o.cur.b) > 0 && o.err() == nil {
		o.send()
	}
	close(o.toHash)
	close(o.toOut)
	o.wg.Wait()
	if err := o.err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// size is the count of bytes accepted by Write.
func (o *overlapWriter) size() int64 { return o.n }

// sum is the lowercase hex digest of what was written; valid after Close.
func (o *overlapWriter) sum() string { return hex.EncodeToString(o.h.Sum(nil)) }

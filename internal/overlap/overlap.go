// Package overlap runs the stages a stream goes through on its way into
// storage (its SHA-256, its encryption, the storage writes) on goroutines
// of their own instead of one after another on the producer's. A backup's
// bytes come from a producer that is already busy (archive.Write's output
// loop, an upload's receive): a serial chain makes it wait for every
// stage in turn, and each stage wait for the next, while the machine has
// a core to run them beside each other. The plugin's Create and Upload
// both stream through it, and the bench measures the digest's cost
// through it, so it lives here, once.
//
// Memory is fixed: a Writer has Buffers buffers of BufSize bytes whatever
// the stream's length.
package overlap

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

const (
	// BufSize is the size of each buffer a Writer hands on.
	BufSize = 1 << 20
	// Buffers is how many buffers a Writer has.
	Buffers = 4
)

// buffer is one buffer on its way to the sinks; the last sink to finish
// with it returns it to the free list.
type buffer struct {
	b    []byte
	refs atomic.Int32
}

// Writer collects what it is given into fixed buffers and hands each full
// one to every sink, each sink on a goroutine of its own, in order; a
// buffer is reused once every sink is done with it. Write never blocks for
// longer than it takes a buffer to come free. Close must be called once,
// always: it hands on what is buffered, waits for every sink and returns
// the first error of any. Once a sink has failed, no sink is given
// anything more. A Writer is not safe for concurrent use.
type Writer struct {
	free   chan *buffer
	queues []chan *buffer // one per sink
	cur    *buffer        // being filled by Write; nil if none
	n      int64          // bytes accepted by Write
	wg     sync.WaitGroup
	closed bool

	mu     sync.Mutex
	err    error // first error of a sink; sticky
	failed atomic.Bool
}

// New returns a Writer handing what it is written to every sink: a
// hash.Hash and a storage writer, say.
func New(sinks ...io.Writer) *Writer {
	o := &Writer{free: make(chan *buffer, Buffers)}
	for range Buffers {
		o.free <- &buffer{b: make([]byte, 0, BufSize)}
	}
	for _, s := range sinks {
		q := make(chan *buffer, Buffers)
		o.queues = append(o.queues, q)
		o.wg.Go(func() { o.drain(s, q) })
	}
	return o
}

// drain writes every buffer of q to s until q is closed.
func (o *Writer) drain(s io.Writer, q chan *buffer) {
	for b := range q {
		if !o.failed.Load() {
			if _, err := s.Write(b.b); err != nil {
				o.fail(err)
			}
		}
		o.release(b)
	}
}

func (o *Writer) fail(err error) {
	o.mu.Lock()
	if o.err == nil {
		o.err = err
	}
	o.mu.Unlock()
	o.failed.Store(true)
}

// release hands b back to the free list once every sink is done with it.
func (o *Writer) release(b *buffer) {
	if b.refs.Add(-1) <= 0 {
		b.b = b.b[:0]
		o.free <- b // never blocks: there are Buffers places
	}
}

// Err returns the first error of a sink, or nil.
func (o *Writer) Err() error {
	if !o.failed.Load() {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// ErrClosed is returned by a Write or a Close after Close.
var ErrClosed = errors.New("overlap: write after close")

// Write implements io.Writer. An error of a sink is returned by a later
// Write or by Close, once seen; bytes before it are counted as accepted.
func (o *Writer) Write(p []byte) (int, error) {
	if o.closed {
		return 0, ErrClosed
	}
	done := 0
	for done < len(p) {
		if err := o.Err(); err != nil {
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

// send hands the current buffer to every sink.
func (o *Writer) send() {
	b := o.cur
	o.cur = nil
	b.refs.Store(int32(len(o.queues)))
	if len(o.queues) == 0 {
		o.release(b)
		return
	}
	for _, q := range o.queues {
		q <- b
	}
}

// Close hands on what is buffered, waits until every sink has all of it,
// and returns the first error of a sink.
func (o *Writer) Close() error {
	if o.closed {
		return ErrClosed
	}
	o.closed = true
	if o.cur != nil && len(o.cur.b) > 0 && o.Err() == nil {
		o.send()
	}
	for _, q := range o.queues {
		close(q)
	}
	o.wg.Wait()
	return o.Err()
}

// Size is the count of bytes accepted by Write.
func (o *Writer) Size() int64 { return o.n }

package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is the unit Write reads, compresses and writes: the chunks of
// one large file are compressed on several cores at once.
const chunkSize = 1 << 20

// fileJob is one file being archived.
type fileJob struct {
	name   string
	perm   fs.FileMode
	mtime  time.Time
	method atomic.Int32 // methodDeflate or methodStore, set by its first chunk's worker
}

// chunk is up to chunkSize bytes of a file, or a failure to read one.
type chunk struct {
	file     *fileJob
	seq      int  // position in the file, from 0
	last     bool // the file ends with this chunk (which may be empty)
	buf      *chunkBuf
	raw      []byte // the content: a prefix of buf.raw
	comp     []byte // raw deflated, if deflated: a prefix of buf.comp's array
	deflated bool
	crc      uint32        // CRC-32 of raw
	err      error         // reading or compressing failed: Write fails here
	done     chan struct{} // closed when the fields above are final
}

// chunkBuf is one of the fixed number of buffers chunks travel in: they
// bound the memory of a Write, whatever the size of the files.
type chunkBuf struct {
	raw  []byte // chunkSize bytes, allocated on first use
	comp []byte // grows to what deflated chunks need, then is reused
}

// pipeline is one Write in progress: a reader goroutine turns the planned
// entries into chunks, in order, and hands each to the workers (which
// compress them, in any order) and to the writer (which waits for each in
// turn and writes it to the zip).
type pipeline struct {
	root    *os.Root
	prog    *progress // called by the reader only
	workers int       // compressing goroutines
	codec   codec     // what the workers deflate with
	free    chan *chunkBuf
	work    chan *chunk
	ordered chan *chunk
	// replacedRead (may be nil) is called by the reader once every
	// replacement entry (those with an abs path, planned first) is read.
	replacedRead func()
}

// newPipeline returns a pipeline reading from root with workers
// compressing goroutines deflating with c.
func newPipeline(root *os.Root, prog *progress, workers int, c codec) *pipeline {
	// Enough buffers for every worker to hold one while the writer drains
	// another and the reader fills a third, with slack for uneven chunks.
	nbuf := 2*workers + 2
	p := &pipeline{
		root:    root,
		prog:    prog,
		workers: workers,
		codec:   c,
		free:    make(chan *chunkBuf, nbuf),
		work:    make(chan *chunk, nbuf),
		ordered: make(chan *chunk, nbuf),
	}
	for range nbuf {
		p.free <- &chunkBuf{}
	}
	return p
}

// run archives entries into zw and returns what it wrote. It returns once
// every goroutine it started has ended.
func (p *pipeline) run(ctx context.Context, zw *zip.Writer, entries []entry) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { p.read(ctx, entries) })
	for range p.workers {
		wg.Go(func() {
			d := newChunkDeflater(p.codec)
			defer d.close()
			for c := range p.work {
				if ctx.Err() == nil {
					d.process(c)
				}
				close(c.done)
				// Let the writer or reader this may have woken run now
				// rather than at the next preemption: the pipeline stalls
				// while they wait for a core.
				runtime.Gosched()
			}
		})
	}
	stats, err := p.write(ctx, zw)
	cancel()
	wg.Wait()
	return stats, err
}

// read feeds the chunks of every entry, in order, to the workers and the
// writer. It stops at the first error, which it passes to the writer as a
// chunk, or when ctx ends.
func (p *pipeline) read(ctx context.Context, entries []entry) {
	defer close(p.work)
	defer close(p.ordered)
	replacements := 0
	for _, e := range entries {
		if e.abs != "" {
			replacements++
		}
	}
	for i, e := range entries {
		if i == replacements && p.replacedRead != nil {
			p.replacedRead()
		}
		err := p.readFile(ctx, e)
		if errors.Is(err, errVanished) {
			err = nil
		}
		if err != nil {
			done := make(chan struct{})
			close(done)
			select {
			case p.ordered <- &chunk{err: err, done: done}:
			case <-ctx.Done(): // the writer has gone
			}
			return
		}
	}
	if len(entries) == replacements && p.replacedRead != nil {
		p.replacedRead()
	}
}

// readFile feeds the chunks of one file. It returns errVanished if the file
// is gone (or no longer a regular file).
func (p *pipeline) readFile(ctx context.Context, e entry) error {
	f, info, err := openEntry(p.root, e)
	if err != nil {
		return err
	}
	defer f.Close()
	fj := &fileJob{name: e.name, perm: info.Mode().Perm(), mtime: info.ModTime()}
	for seq := 0; ; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var buf *chunkBuf
		select {
		case buf = <-p.free:
		case <-ctx.Done():
			return ctx.Err()
		}
		if buf.raw == nil {
			buf.raw = make([]byte, chunkSize)
			buf.comp = p.codec.compBuffer()
		}
		n, err := io.ReadFull(f, buf.raw)
		last := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !last {
			return fmt.Errorf("read %s: %w", e.name, err)
		}
		p.prog.add(int64(n))
		c := &chunk{file: fj, seq: seq, last: last, buf: buf, raw: buf.raw[:n], done: make(chan struct{})}
		// Neither send blocks (each channel holds nbuf chunks, and a chunk
		// holds a buffer) unless the writer has gone.
		select {
		case p.ordered <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case p.work <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		if last {
			return nil
		}
	}
}

// openEntry opens the file archived as e and returns it with its
// information. It returns errVanished if a file of the tree is gone or no
// longer a regular file.
func openEntry(root *os.Root, e entry) (*os.File, fs.FileInfo, error) {
	var f *os.File
	var err error
	if e.abs != "" {
		f, err = os.Open(e.abs)
	} else {
		f, err = root.Open(filepath.FromSlash(e.name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errVanished
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", e.name, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", e.name, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		if e.abs != "" {
			return nil, nil, fmt.Errorf("replace %q: %s is not a regular file", e.name, e.abs)
		}
		return nil, nil, errVanished
	}
	return f, info, nil
}

// write writes the chunks to zw in order, each entry with CreateRaw, and
// returns what it archived.
//
// A file of one chunk gets its CRC-32 and sizes in its local header. A
// longer one gets a data descriptor: its header, which zip.Writer keeps
// (CreateRaw documents that it stores its argument), is completed after its
// last chunk and before the next entry or Close, which is when zip.Writer
// writes the descriptor and, at Close, the central directory from it.
func (p *pipeline) write(ctx context.Context, zw *zip.Writer) (Stats, error) {
	var (
		stats             Stats
		hdr               *zip.FileHeader
		out               io.Writer
		crc               uint32
		compressed, usize uint64
	)
	for c := range p.ordered {
		select {
		case <-c.done:
		case <-ctx.Done():
			return stats, ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		if c.err != nil {
			return stats, c.err
		}
		data := c.raw
		method := uint16(zip.Store)
		if c.file.method.Load() == methodDeflate {
			if !c.deflated { // a worker skips only chunks of stored files
				return stats, fmt.Errorf("write %s: chunk %d not compressed", c.file.name, c.seq)
			}
			data, method = c.comp, zip.Deflate
		}
		if c.seq == 0 {
			hdr = newHeader(c.file.name, c.file.perm, c.file.mtime, method)
			if c.last {
				setSizes(hdr, c.crc, uint64(len(data)), uint64(len(c.raw)))
			} else {
				hdr.Flags |= flagDescriptor
			}
			var err error
			if out, err = zw.CreateRaw(hdr); err != nil {
				return stats, fmt.Errorf("add %s: %w", c.file.name, err)
			}
			crc, compressed, usize = 0, 0, 0
		}
		if _, err := out.Write(data); err != nil {
			return stats, fmt.Errorf("write %s: %w", c.file.name, err)
		}
		crc = crc32Combine(crc, c.crc, int64(len(c.raw)))
		compressed += uint64(len(data))
		usize += uint64(len(c.raw))
		p.free <- c.buf // never blocks: there are nbuf buffers
		if c.last {
			if hdr.Flags&flagDescriptor != 0 {
				setSizes(hdr, crc, compressed, usize)
			}
			stats.Files++
			stats.Bytes += int64(usize)
		}
	}
	// The reader stops early only when ctx ends.
	return stats, ctx.Err()
}

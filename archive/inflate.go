package archive

import (
	"bufio"
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// inflateBufSize is the read size from the archive while inflating: a
// pread per 64 KiB rather than per 4 KiB (bufio's default).
const inflateBufSize = 64 << 10

// inflater is a reusable klauspost inflater (faster than compress/flate's)
// with the buffered reader it reads from.
type inflater struct {
	br *bufio.Reader
	fr io.ReadCloser // also a flate.Resetter
}

var inflaters sync.Pool

// decompressInflate is the zip.Decompressor for zip.Deflate that Extract
// registers: it inflates with github.com/klauspost/compress/flate and
// returns the inflater to a pool when closed.
func decompressInflate(r io.Reader) io.ReadCloser {
	in, _ := inflaters.Get().(*inflater)
	if in == nil {
		br := bufio.NewReaderSize(r, inflateBufSize)
		in = &inflater{br: br, fr: flate.NewReader(br)}
	} else {
		in.br.Reset(r)
		in.fr.(flate.Resetter).Reset(in.br, nil) //nolint:errcheck // Reset never fails without a dictionary
	}
	return &pooledInflater{in: in}
}

// pooledInflater returns its inflater to the pool when closed.
type pooledInflater struct {
	in *inflater
}

var errReadAfterClose = errors.New("read after close")

func (p *pooledInflater) Read(b []byte) (int, error) {
	if p.in == nil {
		return 0, errReadAfterClose
	}
	return p.in.fr.Read(b)
}

func (p *pooledInflater) Close() error {
	if p.in == nil {
		return nil
	}
	err := p.in.fr.Close()
	p.in.br.Reset(nil) // drop the reference to the archive
	inflaters.Put(p.in)
	p.in = nil
	return err
}

//go:build !cgo || !linux

package isal

import (
	"errors"
	"io"
)

// Available reports whether libisal.so.2 could be loaded: never in a
// build without cgo.
func Available() bool { return false }

// ErrUnavailable is returned by [NewDeflater] without the library.
var ErrUnavailable = errors.New("isal: built without cgo")

// Deflater is unavailable in this build.
type Deflater struct{}

// NewDeflater fails in this build.
func NewDeflater(level int) (*Deflater, error) { return nil, ErrUnavailable }

// Close does nothing.
func (d *Deflater) Close() {}

// Bound is the output space Deflate asks for src's length.
func Bound(n int) int { return n + n/64 + 4096 }

// Deflate fails in this build.
func (d *Deflater) Deflate(dst, src []byte, last bool) ([]byte, error) { return dst, ErrUnavailable }

// Piece tells how [Inflater.Piece] ended.
type Piece int

// The ends of a piece.
const (
	PieceBad Piece = iota
	PieceBoundary
	PieceFinal
	PieceFull
)

// Inflater is unavailable in this build.
type Inflater struct{}

// NewInflater fails in this build.
func NewInflater() (*Inflater, error) { return nil, ErrUnavailable }

// Close does nothing.
func (f *Inflater) Close() {}

// Piece fails in this build.
func (f *Inflater) Piece(in, out []byte) ([]byte, Piece) { return out[:0], PieceBad }

// ErrCorrupt is returned by [Reader] for data that is not valid deflate.
var ErrCorrupt = errors.New("isal: invalid deflate data")

// Reader is unavailable in this build.
type Reader struct{}

// NewReader fails in this build.
func NewReader(io.Reader, []byte) (*Reader, error) { return nil, ErrUnavailable }

// Reset fails in this build.
func (r *Reader) Reset(io.Reader, []byte) error { return ErrUnavailable }

// Read fails in this build.
func (r *Reader) Read([]byte) (int, error) { return 0, ErrUnavailable }

// Close does nothing.
func (r *Reader) Close() error { return nil }

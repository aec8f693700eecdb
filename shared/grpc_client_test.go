package shared

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestFillChunk: only a clean EOF ends a body; an unexpected EOF from the
// reader itself is an error, not the end.
func TestFillChunk(t *testing.T) {
	buf := make([]byte, 8)
	n, err := fillChunk(bytes.NewReader([]byte("abc")), buf)
	if n != 3 || err != io.EOF {
		t.Fatalf("short body: %d, %v", n, err)
	}
	n, err = fillChunk(iotest.OneByteReader(bytes.NewReader([]byte("0123456789"))), buf)
	if n != 8 || err != nil {
		t.Fatalf("full chunk: %d, %v", n, err)
	}
	cut := io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(io.ErrUnexpectedEOF))
	n, err = fillChunk(cut, buf)
	if n != 2 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: %d, %v", n, err)
	}
}

package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"testing"
)

// TestEngineChoosesCodec: the engine a Write is given is the one that
// deflates its chunks, byte for byte (igzip's and klauspost's streams
// differ), and Name reports it.
func TestEngineChoosesCodec(t *testing.T) {
	if got := EngineGo.Name(); got != "go" {
		t.Errorf("EngineGo.Name() = %q", got)
	}
	if got := DeflateEngine(); got != EngineAuto.Name() {
		t.Errorf("DeflateEngine() = %q, EngineAuto.Name() = %q", got, EngineAuto.Name())
	}
	text := textBytes(t, chunkSize/2, 7)
	forEachEngine(t, func(t *testing.T, opts WriteOptions) {
		c := opts.Engine.codec()
		if want := map[Engine]string{EngineGo: "go", EngineAuto: "isa-l"}[opts.Engine]; c.name() != want {
			t.Fatalf("engine %q: codec %q, want %q", opts.Engine, c.name(), want)
		}
		comp := c.newCompressor()
		defer comp.close()
		want, err := comp.deflate(nil, text, true)
		if err != nil {
			t.Fatal(err)
		}

		root := t.TempDir()
		writeTree(t, root, map[string]string{"data.db": string(text)})
		var buf bytes.Buffer
		if _, err := Write(context.Background(), &buf, Source{Root: root}, opts); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := zr.File[0].OpenRaw()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("engine %q: Write deflated %d bytes, not the %d its codec makes", opts.Engine, len(got), len(want))
		}
	})
}

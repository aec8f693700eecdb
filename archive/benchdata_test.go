package archive

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchWords is the vocabulary of the generated database rows.
var benchWords = []string{
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
	"quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey",
	"xray", "yankee", "zulu", "note", "task", "done", "open", "closed",
	"urgent", "later", "review", "draft", "published", "archived", "user",
	"admin", "editor", "viewer", "invoice", "order", "payment", "shipping",
	"customer", "product", "category", "comment", "the", "a", "of", "and",
	"to", "in", "is", "for", "on", "with", "as", "by", "at", "from",
}

// writeTextRows writes about n bytes of SQLite-like text rows (ids, dates,
// e-mails, words, small JSON) to path: compressible about 3:1 at level 1.
func writeTextRows(tb testing.TB, path string, n int64, rng *rand.Rand) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 0, 1<<20)
	var written int64
	for row := 0; written < n; row++ {
		buf = buf[:0]
		for len(buf) < cap(buf)-512 {
			buf = append(buf, "r"...)
			buf = strconv.AppendUint(buf, rng.Uint64()&0xffffffffffff, 36)
			buf = append(buf, "|2025-"...)
			buf = strconv.AppendInt(buf, int64(1+rng.IntN(12)), 10)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(1+rng.IntN(28)), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(rng.IntN(86400)), 10)
			buf = append(buf, '|')
			buf = append(buf, benchWords[rng.IntN(len(benchWords))]...)
			buf = append(buf, '.')
			buf = strconv.AppendInt(buf, int64(rng.IntN(10000)), 10)
			buf = append(buf, "@example.com|"...)
			for w := 4 + rng.IntN(24); w > 0; w-- {
				buf = append(buf, benchWords[rng.IntN(len(benchWords))]...)
				buf = append(buf, ' ')
			}
			buf = append(buf, `|{"views":`...)
			buf = strconv.AppendInt(buf, int64(rng.IntN(100000)), 10)
			buf = append(buf, `,"flag":`...)
			buf = strconv.AppendBool(buf, rng.IntN(2) == 0)
			buf = append(buf, "}\n"...)
		}
		if rest := n - written; int64(len(buf)) > rest {
			buf = buf[:rest]
		}
		if _, err := f.Write(buf); err != nil {
			tb.Fatal(err)
		}
		written += int64(len(buf))
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// writeRandom writes n incompressible bytes to path.
func writeRandom(tb testing.TB, path string, n int64, rng *rand.Rand) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for n > 0 {
		b := buf[:min(n, int64(len(buf)))]
		for i := 0; i+8 <= len(b); i += 8 {
			u := rng.Uint64()
			b[i], b[i+1], b[i+2], b[i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			b[i+4], b[i+5], b[i+6], b[i+7] = byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56)
		}
		for i := len(b) &^ 7; i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.Write(b); err != nil {
			tb.Fatal(err)
		}
		n -= int64(len(b))
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// makePBData creates under root a pb_data-shaped tree of about size bytes
// from seed: data.db of text rows (60%), and storage/ files (40%) of which
// 60% of the bytes are random (images) and the rest text, from 4 KiB to
// 2 MiB, about 200 KiB on average. It returns the exact total.
func makePBData(tb testing.TB, root string, size int64, seed uint64) int64 {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dbSize := size * 6 / 10
	writeTextRows(tb, filepath.Join(root, "data.db"), dbSize, rng)
	total := dbSize
	for i := 0; total < size; i++ {
		// Log-uniform between 4 KiB and 2 MiB.
		n := int64(4<<10) << rng.IntN(10)
		n += rng.Int64N(n)
		n = min(n, size-total)
		dir := filepath.Join(root, "storage", fmt.Sprintf("pbc_%d", i%7), fmt.Sprintf("rec%04d", i/3))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		if rng.IntN(10) < 6 {
			writeRandom(tb, filepath.Join(dir, fmt.Sprintf("photo_%d.jpg", i)), n, rng)
		} else {
			writeTextRows(tb, filepath.Join(dir, fmt.Sprintf("notes_%d.json", i)), n, rng)
		}
		total += n
	}
	return total
}

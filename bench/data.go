package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// dataSpec sizes the generated pb_data.
type dataSpec struct {
	Total   int64  // wanted bytes overall
	Files   int    // files under storage/
	Seed    uint64 // everything is derived from it
	DataDB  int64  // bytes of data.db
	AuxDB   int64  // bytes of auxiliary.db
	Storage int64  // bytes under storage/
}

// randomShare is the share of storage/ bytes that are random (photos,
// archives); the rest is text.
const randomShare = 0.60

// newDataSpec splits total: 2/3 data.db, 1/48 auxiliary.db, the rest
// storage/ (1.5 GiB: 1 GiB, 32 MiB, 480 MiB).
func newDataSpec(total int64, files int, seed uint64) dataSpec {
	s := dataSpec{Total: total, Files: files, Seed: seed}
	s.DataDB = total * 2 / 3
	s.AuxDB = total / 48
	s.Storage = total - s.DataDB - s.AuxDB
	return s
}

// dataSet is what generate wrote.
type dataSet struct {
	Dir          string
	Bytes        int64 // on disk, every file
	DataDBBytes  int64
	AuxDBBytes   int64
	StorageBytes int64
	RandomBytes  int64 // random bytes under storage/
	Files        int
	Rows         int64 // data.db rows
	Took         time.Duration
}

// generate writes a pb_data directory into dir: a WAL-mode data.db of
// text rows, an auxiliary.db of log rows and spec.Files files under
// storage/. The same spec always gives the same bytes.
func generate(ctx context.Context, dir string, spec dataSpec) (dataSet, error) {
	start := time.Now()
	out := dataSet{Dir: dir, Files: spec.Files}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	var wg sync.WaitGroup
	var dataErr, auxErr, storageErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		out.Rows, dataErr = writeDataDB(ctx, filepath.Join(dir, "data.db"), spec.DataDB, spec.Seed)
	}()
	go func() {
		defer wg.Done()
		// Small and IO-light next to data.db: one after the other.
		if auxErr = writeAuxDB(ctx, filepath.Join(dir, "auxiliary.db"), spec.AuxDB, spec.Seed+1); auxErr != nil {
			return
		}
		out.RandomBytes, storageErr = writeStorage(ctx, filepath.Join(dir, "storage"), spec)
	}()
	wg.Wait()
	if err := errors.Join(dataErr, auxErr, storageErr); err != nil {
		return out, fmt.Errorf("generate data set: %w", err)
	}
	var err error
	if out.DataDBBytes, err = fileSize(filepath.Join(dir, "data.db")); err != nil {
		return out, err
	}
	if out.AuxDBBytes, err = fileSize(filepath.Join(dir, "auxiliary.db")); err != nil {
		return out, err
	}
	if out.StorageBytes, _, err = treeSize(filepath.Join(dir, "storage")); err != nil {
		return out, err
	}
	if out.Bytes, _, err = treeSize(dir); err != nil {
		return out, err
	}
	out.Took = time.Since(start)
	return out, nil
}

// genDSN opens a database for bulk loading: no journal, no syncs.
func genDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(OFF)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "cache_size(-65536)")
	return (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
}

// bulkLoad creates a table with ddl and fills it through insert (fill
// sets the arguments of one row and returns its payload bytes) until the
// file holds target bytes, in transactions of at most 64 MiB of payload;
// the database ends in WAL mode, as PocketBase keeps it.
func bulkLoad(ctx context.Context, path, ddl, insert string, target int64, fill func(args []any) int) (rows int64, err error) {
	db, err := sql.Open("sqlite", genDSN(path))
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return 0, fmt.Errorf("%s: schema: %w", filepath.Base(path), err)
	}
	const maxTxBytes = 64 << 20
	var payload int64
	args := make([]any, placeholders(insert))
	for {
		size, err := fileSize(path)
		if err != nil {
			return rows, err
		}
		// Payload still to write, from the file bytes per payload byte so far.
		perByte := 1.3
		if payload > 0 {
			perByte = float64(size) / float64(payload)
		}
		want := min(int64(float64(target-size)/perByte), maxTxBytes)
		if size >= target || want < 4096 {
			break
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return rows, err
		}
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			return rows, errors.Join(err, tx.Rollback())
		}
		var inTx int64
		for inTx < want {
			n := fill(args)
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return rows, errors.Join(fmt.Errorf("%s: insert: %w", filepath.Base(path), err), tx.Rollback())
			}
			inTx += int64(n)
			rows++
		}
		if err := errors.Join(stmt.Close(), tx.Commit()); err != nil {
			return rows, err
		}
		payload += inTx
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil || mode != "wal" {
		return rows, fmt.Errorf("%s: journal_mode wal: %q %w", filepath.Base(path), mode, err)
	}
	return rows, nil
}

// placeholders counts the placeholders of a statement.
func placeholders(stmt string) int {
	n := 0
	for _, c := range stmt {
		if c == '?' {
			n++
		}
	}
	return n
}

// writeDataDB fills data.db with a posts table of text rows (body 256 B
// to ~3.7 KiB, so rows stay on their leaf page).
func writeDataDB(ctx context.Context, path string, target int64, seed uint64) (int64, error) {
	r := rand.New(rand.NewPCG(seed, 0x64617461))
	tg := newTextGen(r)
	var body, title []byte
	id := int64(0)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return bulkLoad(ctx, path,
		`CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, created TEXT NOT NULL)`,
		`INSERT INTO posts (id, title, body, created) VALUES (?, ?, ?, ?)`,
		target, func(args []any) int {
			id++
			title = tg.appendText(title[:0], 20+r.IntN(60))
			body = tg.appendText(body[:0], 256+r.IntN(3500))
			created := base.Add(time.Duration(id) * time.Second).Format("2006-01-02 15:04:05.000Z")
			args[0], args[1], args[2], args[3] = id, string(title), string(body), created
			return len(title) + len(body) + len(created) + 8
		})
}

// writeAuxDB fills auxiliary.db with PocketBase's _logs table.
func writeAuxDB(ctx context.Context, path string, target int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x617578))
	tg := newTextGen(r)
	var msg, detail []byte
	n := 0
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	_, err := bulkLoad(ctx, path,
		`CREATE TABLE _logs (
	id      TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
	level   INTEGER DEFAULT 0 NOT NULL,
	message TEXT DEFAULT '' NOT NULL,
	data    JSON DEFAULT '{}' NOT NULL,
	created TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
)`,
		`INSERT INTO _logs (id, level, message, data, created) VALUES (?, ?, ?, ?, ?)`,
		target, func(args []any) int {
			n++
			msg = tg.appendText(msg[:0], 20+r.IntN(40))
			detail = tg.appendText(detail[:0], 100+r.IntN(600))
			data := `{"method":"GET","status":200,"execTime":` + strconv.Itoa(r.IntN(500)) + `,"details":"` + string(detail) + `"}`
			id := fmt.Sprintf("r%014x", uint64(n)*0x9e3779b97f4a7c15>>8)
			created := base.Add(time.Duration(n) * 250 * time.Millisecond).Format("2006-01-02 15:04:05.000Z")
			args[0], args[1], args[2], args[3], args[4] = id, r.IntN(9)-4, string(msg), data, created
			return len(id) + len(msg) + len(data) + len(created) + 8
		})
	return err
}

// storageFile is one file to write under storage/.
type storageFile struct {
	path   string
	size   int64
	random bool
}

// planStorage lays out spec.Files files under storage/COLLECTION/RECORD/
// with log-normal sizes summing to spec.Storage, randomShare of the bytes
// in files of random content.
func planStorage(root string, spec dataSpec) []storageFile {
	r := rand.New(rand.NewPCG(spec.Seed+2, 0x73746f72))
	weights := make([]float64, spec.Files)
	var sum float64
	for i := range weights {
		weights[i] = math.Exp(r.NormFloat64() * 1.3)
		sum += weights[i]
	}
	files := make([]storageFile, spec.Files)
	var planned int64
	for i := range files {
		size := int64(weights[i] / sum * float64(spec.Storage))
		if i == len(files)-1 {
			size = max(spec.Storage-planned, 0)
		}
		planned += size
		coll := fmt.Sprintf("pbc_%010d", 1000+i%7)
		rec := fmt.Sprintf("%015x", r.Uint64()>>4)
		files[i] = storageFile{path: filepath.Join(root, coll, rec, fmt.Sprintf("file_%04d", i)), size: size}
	}
	// Random content in a shuffled order until its share is reached.
	var random int64
	for _, i := range r.Perm(len(files)) {
		if float64(random) >= randomShare*float64(spec.Storage) {
			break
		}
		files[i].random = true
		random += files[i].size
	}
	for i := range files {
		if files[i].random {
			files[i].path += [...]string{".jpg", ".png", ".webp", ".zip"}[i%4]
		} else {
			files[i].path += [...]string{".txt", ".json", ".csv", ".md"}[i%4]
		}
	}
	return files
}

// writeStorage writes the planned files and returns the random bytes.
func writeStorage(ctx context.Context, root string, spec dataSpec) (int64, error) {
	var random int64
	buf := make([]byte, 1<<20)
	for i, f := range planStorage(root, spec) {
		if err := ctx.Err(); err != nil {
			return random, err
		}
		if err := writeStorageFile(f, buf, spec.Seed+uint64(i)+100); err != nil {
			return random, err
		}
		if f.random {
			random += f.size
		}
	}
	return random, nil
}

func writeStorageFile(f storageFile, buf []byte, seed uint64) (err error) {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(f.path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	w := bufio.NewWriterSize(out, 1<<20)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	cc := rand.NewChaCha8(key)
	tg := newTextGen(rand.New(cc))
	var text []byte
	for left := f.size; left > 0; {
		n := min(left, int64(len(buf)))
		chunk := buf[:n]
		if f.random {
			_, _ = cc.Read(chunk) // never fails
		} else {
			text = tg.appendText(text[:0], int(n))
			chunk = text
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		left -= n
	}
	return w.Flush()
}

// textGen writes sentence-like text from a fixed vocabulary with a skewed
// word frequency, so it compresses about as well as real prose.
type textGen struct {
	r     *rand.Rand
	words [][]byte
}

var syllables = []string{"ka", "ro", "mi", "ten", "sa", "lu", "ver", "no", "da", "pe", "tri", "qu", "an", "es", "or", "li", "mon", "bel", "ch", "st", "ia", "ou", "ex", "um"}

// newTextGen builds a 4,096-word vocabulary from r.
func newTextGen(r *rand.Rand) *textGen {
	g := &textGen{r: r, words: make([][]byte, 4096)}
	for i := range g.words {
		var w []byte
		for range 1 + r.IntN(4) {
			w = append(w, syllables[r.IntN(len(syllables))]...)
		}
		g.words[i] = w
	}
	return g
}

// appendText appends exactly n bytes of text to dst.
func (g *textGen) appendText(dst []byte, n int) []byte {
	end := len(dst) + n
	sentence := 0
	for len(dst) < end {
		// Skewed: low indices (common words) far more often.
		idx := int(g.r.ExpFloat64()*350) % len(g.words)
		w := g.words[idx]
		if sentence == 0 && len(w) > 0 {
			dst = append(dst, w[0]-'a'+'A')
			dst = append(dst, w[1:]...)
		} else {
			dst = append(dst, w...)
		}
		sentence++
		switch {
		case sentence > 6 && g.r.IntN(10) == 0:
			dst = append(dst, ".\n"[:1+g.r.IntN(2)]...)
			if dst[len(dst)-1] == '.' {
				dst = append(dst, ' ')
			}
			sentence = 0
		case g.r.IntN(14) == 0:
			dst = append(dst, ", "...)
		default:
			dst = append(dst, ' ')
		}
	}
	return dst[:end]
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// treeSize sums the regular files below root.
func treeSize(root string) (bytes int64, files int, err error) {
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			bytes += fi.Size()
			files++
		}
		return nil
	})
	return bytes, files, err
}

package main

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// excluded are the data-directory entries neither side archives (the
// host's DefaultExcludes).
var excluded = []string{"backups", ".pb_temp_to_delete", ".autocert_cache", "lost+found", ".notify", ".pocketbackup"}

// createResult is one creation of a backup.
type createResult struct {
	Took     time.Duration
	SyncTook time.Duration // of Took, the final fsync
	BytesIn  int64
	BytesOut int64
	Files    int
}

// baselineCreate is what PocketBase does to create a backup: the stdlib
// archive/zip writer, deflate level 1 (flate.BestSpeed), one goroutine,
// every file of dataDir as it is on disk (databases with their -wal and
// -shm). It writes out, on the same disk as the backups, and fsyncs it
// (our backups are fsynced too; PocketBase does not, see syncTook).
func baselineCreate(dataDir, out string) (res createResult, err error) {
	start := time.Now()
	f, err := os.Create(out)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	zw := zip.NewWriter(f)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if filepath.Dir(rel) == "." && slices.Contains(excluded, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n, err := addFile(zw, path, filepath.ToSlash(rel))
		res.BytesIn += n
		res.Files++
		return err
	})
	if err != nil {
		return res, err
	}
	if err := zw.Close(); err != nil {
		return res, err
	}
	syncStart := time.Now()
	if err := f.Sync(); err != nil {
		return res, err
	}
	res.SyncTook = time.Since(syncStart)
	res.Took = time.Since(start)
	if fi, err := f.Stat(); err == nil {
		res.BytesOut = fi.Size()
	}
	return res, nil
}

func addFile(zw *zip.Writer, path, name string) (int64, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, err
	}
	hdr, err := zip.FileInfoHeader(fi)
	if err != nil {
		return 0, err
	}
	hdr.Name, hdr.Method = name, zip.Deflate
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return 0, err
	}
	return io.Copy(w, in)
}

// extractResult is one staging of a backup.
type extractResult struct {
	Took      time.Duration
	FetchTook time.Duration // of Took, the copy of the zip
	SyncTook  time.Duration // of Took, the per-file fsyncs
	Bytes     int64         // uncompressed bytes written
	Files     int
}

// baselineExtract is PocketBase's restore staging with the stdlib: copy
// the backup to a temp zip through a plain 32 KiB buffer (as from a blob
// reader, no copy_file_range), then archive/zip extraction of every entry
// in one goroutine. Like ours, it fsyncs each file (PocketBase does not,
// see SyncTook).
func baselineExtract(zipPath, workDir string) (res extractResult, err error) {
	start := time.Now()
	tmpZip := filepath.Join(workDir, "fetch.zip")
	if err := plainCopy(zipPath, tmpZip); err != nil {
		return res, fmt.Errorf("fetch: %w", err)
	}
	res.FetchTook = time.Since(start)
	zr, err := zip.OpenReader(tmpZip)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, zr.Close()) }()
	dest := filepath.Join(workDir, "out")
	for _, f := range zr.File {
		target := filepath.Join(dest, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return res, err
			}
			continue
		}
		n, syncTook, err := extractOne(f, target)
		res.Bytes += n
		res.SyncTook += syncTook
		res.Files++
		if err != nil {
			return res, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

func extractOne(f *zip.File, target string) (n int64, syncTook time.Duration, err error) {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return 0, 0, err
	}
	rc, err := f.Open()
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, f.Mode().Perm()|0o600)
	if err != nil {
		return 0, 0, err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if n, err = io.Copy(out, rc); err != nil {
		return n, 0, err
	}
	start := time.Now()
	err = out.Sync()
	return n, time.Since(start), err
}

// plainCopy copies src to dst through a 32 KiB buffer.
func plainCopy(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	// The wrappers hide ReadFrom/WriteTo: a plain read/write loop.
	_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, make([]byte, 32<<10))
	return err
}

// serveFileBaseline serves path with http.ServeFile on a loopback
// httptest server: the download baseline.
func serveFileBaseline(path string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		http.ServeFile(w, r, path)
	}))
}

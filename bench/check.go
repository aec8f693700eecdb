package main

import (
	"archive/zip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// zipReport is what the compatibility check found in a backup.
type zipReport struct {
	Entries      int
	Dirs         int
	Stored       int
	Deflated     int
	Other        []string // entries with another method: PocketBase cannot read them
	Unsafe       []string // absolute or escaping names
	HasDataDB    bool
	Uncompressed int64
	UnzipOK      bool
	UnzipSkipped bool
	UnzipOutput  string
}

// ok reports whether PocketBase can restore the zip and unzip -t passed.
func (z zipReport) ok() bool {
	return len(z.Other) == 0 && len(z.Unsafe) == 0 && z.HasDataDB && (z.UnzipOK || z.UnzipSkipped)
}

func (z zipReport) String() string {
	s := fmt.Sprintf("%d entries (%d stored, %d deflated, %d dirs), data.db at root: %v", z.Entries, z.Stored, z.Deflated, z.Dirs, z.HasDataDB)
	if len(z.Other) > 0 {
		s += fmt.Sprintf("; other methods: %v", z.Other)
	}
	if len(z.Unsafe) > 0 {
		s += fmt.Sprintf("; unsafe names: %v", z.Unsafe)
	}
	switch {
	case z.UnzipSkipped:
		s += "; unzip not installed, -t skipped"
	case z.UnzipOK:
		s += "; unzip -t ok"
	default:
		s += "; unzip -t FAILED: " + z.UnzipOutput
	}
	return s
}

// checkZip reads the central directory with the stdlib (as PocketBase
// would) and runs unzip -t over the whole archive.
func checkZip(ctx context.Context, zipPath string) (zipReport, error) {
	var rep zipReport
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return rep, fmt.Errorf("stdlib zip reader: %w", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rep.Entries++
		if strings.HasSuffix(f.Name, "/") {
			rep.Dirs++
		}
		switch f.Method {
		case zip.Store:
			rep.Stored++
		case zip.Deflate:
			rep.Deflated++
		default:
			rep.Other = append(rep.Other, fmt.Sprintf("%s(method %d)", f.Name, f.Method))
		}
		if !filepath.IsLocal(filepath.FromSlash(f.Name)) || strings.Contains(f.Name, `\`) {
			rep.Unsafe = append(rep.Unsafe, f.Name)
		}
		if f.Name == "data.db" {
			rep.HasDataDB = true
		}
		rep.Uncompressed += int64(f.UncompressedSize64)
	}
	unzip, err := exec.LookPath("unzip")
	if err != nil {
		rep.UnzipSkipped = true
		return rep, nil
	}
	out, err := exec.CommandContext(ctx, unzip, "-tqq", zipPath).CombinedOutput()
	rep.UnzipOK = err == nil
	if !rep.UnzipOK {
		rep.UnzipOutput = strings.TrimSpace(string(out))
		if len(rep.UnzipOutput) > 300 {
			rep.UnzipOutput = rep.UnzipOutput[:300] + "…"
		}
	}
	return rep, nil
}

// snapshotReport is what the backup's databases hold.
type snapshotReport struct {
	Integrity map[string]string // database -> integrity_check result
	Rows      int               // writer rows in the backup's data.db
	Prefix    bool              // they are 1..Rows, no gap, no duplicate
	Gap       string            // the first break, when not a prefix
}

// checkSnapshot extracts every database at the root of the backup into
// dir, runs PRAGMA integrity_check on each, and reads the writer's rows of
// data.db.
func checkSnapshot(ctx context.Context, zipPath, dir string) (snapshotReport, error) {
	rep := snapshotReport{Integrity: map[string]string{}}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return rep, err
	}
	defer zr.Close()
	var dbs []string
	for _, f := range zr.File {
		if path.Dir(f.Name) != "." || !strings.HasSuffix(f.Name, ".db") {
			continue
		}
		if err := extractTo(f, filepath.Join(dir, f.Name)); err != nil {
			return rep, err
		}
		dbs = append(dbs, f.Name)
	}
	for _, name := range dbs {
		res, err := integrityCheck(ctx, filepath.Join(dir, name))
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
		rep.Integrity[name] = res
	}
	seqs, err := writerRows(ctx, filepath.Join(dir, "data.db"))
	if err != nil {
		return rep, err
	}
	rep.Rows = len(seqs)
	rep.Prefix, rep.Gap = isPrefix(seqs)
	return rep, nil
}

func extractTo(f *zip.File, dest string) (err error) {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, rc)
	return err
}

func openCheckDB(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(10000)")
}

func integrityCheck(ctx context.Context, dbPath string) (string, error) {
	db, err := openCheckDB(dbPath)
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		msgs = append(msgs, s)
	}
	return strings.Join(msgs, "; "), rows.Err()
}

// writerPrefix starts the title of every row the writer inserts.
const writerPrefix = "bench-writer-"

// writerRows returns the sequence numbers of the writer's rows in data.db.
func writerRows(ctx context.Context, dbPath string) ([]int, error) {
	db, err := openCheckDB(dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT title FROM notes WHERE title LIKE ?`, writerPrefix+"%")
	if err != nil {
		return nil, fmt.Errorf("read notes: %w", err)
	}
	defer rows.Close()
	var seqs []int
	for rows.Next() {
		var title string
		if err := rows.Scan(&title); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(strings.TrimPrefix(title, writerPrefix))
		if err != nil {
			return nil, fmt.Errorf("writer row %q: %w", title, err)
		}
		seqs = append(seqs, n)
	}
	return seqs, rows.Err()
}

// isPrefix reports whether seqs, in any order, are exactly 1..len(seqs).
func isPrefix(seqs []int) (bool, string) {
	s := append([]int(nil), seqs...)
	sort.Ints(s)
	for i, n := range s {
		if n != i+1 {
			return false, fmt.Sprintf("row %d of %d has sequence %d", i+1, len(s), n)
		}
	}
	return true, ""
}

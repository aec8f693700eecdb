package host

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// findDatabases returns the names of the SQLite databases at the top of
// dataDir (data.db, auxiliary.db, …), recognised by content.
func findDatabases(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("read data dir: %w", err)
	}
	var dbs []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasSuffix(name, "-wal") || strings.HasSuffix(name, "-shm") || strings.HasSuffix(name, "-journal") {
			continue
		}
		ok, err := isSQLite(filepath.Join(dataDir, name))
		if err != nil {
			return nil, err
		}
		if ok {
			dbs = append(dbs, name)
		}
	}
	return dbs, nil
}

func isSQLite(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil {
		return false, nil
	}
	return bytes.Equal(head, sqliteHeader), nil
}

// snapshotDatabases writes a transactionally consistent copy of every
// SQLite database of dataDir into destDir without blocking writers
// (VACUUM INTO reads inside one read transaction; in WAL mode writers go
// on). It returns the replacements for the archive: name -> snapshot path.
func snapshotDatabases(ctx context.Context, dataDir, destDir string) (map[string]string, error) {
	names, err := findDatabases(dataDir)
	if err != nil {
		return nil, err
	}
	replace := make(map[string]string, len(names))
	for _, name := range names {
		dest := filepath.Join(destDir, name)
		if err := vacuumInto(ctx, filepath.Join(dataDir, name), dest); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", name, err)
		}
		replace[name] = dest
	}
	return replace, nil
}

func vacuumInto(ctx context.Context, src, dest string) error {
	db, err := sql.Open("sqlite", sqliteDSN(src))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		return err
	}
	return nil
}

// sqliteDSN is a URI filename for path with a busy timeout; the path is
// escaped so names with '?', '#' or spaces open the right file.
func sqliteDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)"
}

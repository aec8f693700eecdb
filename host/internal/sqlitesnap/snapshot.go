package sqlitesnap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
	sqlite3 "modernc.org/sqlite/lib"
)

// findDatabases returns the names of the SQLite databases at the top of
// dataDir (data.db, auxiliary.db, …), recognised by content.
func findDatabases(ctx context.Context, dataDir string) ([]string, error) {
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
		ok, err := isSQLite(ctx, filepath.Join(dataDir, name))
		if err != nil {
			return nil, err
		}
		if ok {
			dbs = append(dbs, name)
		}
	}
	return dbs, nil
}

// isSQLite reports whether the file at path is a SQLite database with at
// least one page, by SQLite's own verdict (a read-only open): a file it
// calls "not a database" is archived, and checked after a restore, as a
// plain file, so every backup made here restores. The file may be one
// of the app's live databases, and it must never be opened outside SQLite
// in the app's process. Closing any descriptor of a file drops every
// POSIX lock the process holds on it, the app's SQLite locks included, and
// another process could then write under them; SQLite's own close keeps
// such a descriptor open until this process's locks on the file are gone.
// That holds for connections of this same SQLite library (modernc.org/
// sqlite, which the app must use too; see frozenDB).
func isSQLite(ctx context.Context, path string) (bool, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path)+"&mode=ro")
	if err != nil {
		return false, err
	}
	defer db.Close()
	var pages int64
	err = db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
	var se *sqlite.Error
	switch {
	case err == nil:
		return pages > 0, nil
	case errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_NOTADB:
		return false, nil
	case errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CANTOPEN:
		if _, statErr := os.Lstat(path); errors.Is(statErr, fs.ErrNotExist) {
			return false, nil // removed since the directory was read
		}
	}
	return false, fmt.Errorf("open %s: %w", filepath.Base(path), err)
}

// Snapshot methods, as the host log names them.
const (
	MethodFrozenWAL    = "frozen-wal"
	MethodOnlineBackup = "online-backup"
)

// Snapshot stands in for the databases of a data directory while the
// archive is written: each is either a live WAL database frozen in place
// (see freezeDatabase) or a copy made with the online backup API (see
// backupDatabase). Release it once the archive is written, on every path.
type Snapshot struct {
	DBs []*DB
}

// DB is how one database was snapshotted.
type DB struct {
	Name   string        // relative to the data dir
	Path   string        // the file the archive reads in the database's place
	Method string        // MethodFrozenWAL or MethodOnlineBackup
	Took   time.Duration // to freeze or to copy
	// Reason is why a WAL database could not be frozen ("" if it was).
	Reason string
	// frozen pins the live file until release; nil for a copy.
	frozen *frozenDB
}

// WriteLock is how long the app's writers were held off while the
// database was frozen; false for a copy or once released.
func (d *DB) WriteLock() (time.Duration, bool) {
	if d.frozen == nil {
		return 0, false
	}
	return d.frozen.writeLock, true
}

// Take takes a transactionally consistent snapshot of every
// SQLite database of dataDir. A WAL database is frozen in place, holding
// the app's writers off for a few milliseconds: the archive reads the live
// file, which SQLite cannot write until release (see freezeDatabase). That
// costs no copy, but until release no checkpoint can run, so the WAL grows
// with what the app writes meanwhile; the plugin archives the databases
// first and says when it has read them, which is when create releases them. A database that cannot be frozen (a
// rollback journal, a checkpoint held back by an older reader…) is copied
// into destDir with the online backup API instead (see backupDatabase).
func Take(ctx context.Context, dataDir, destDir string) (*Snapshot, error) {
	names, err := findDatabases(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{}
	for _, name := range names {
		d, err := snapshotDatabase(ctx, filepath.Join(dataDir, name), filepath.Join(destDir, name))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("snapshot %s: %w", name, err), s.Release(ctx))
		}
		d.Name = name
		s.DBs = append(s.DBs, d)
	}
	return s, nil
}

// snapshotDatabase freezes src, or copies it into dest when it cannot be
// frozen.
func snapshotDatabase(ctx context.Context, src, dest string) (*DB, error) {
	start := time.Now()
	f, freezeErr := freezeDatabase(ctx, src)
	if freezeErr == nil {
		return &DB{Path: src, Method: MethodFrozenWAL, Took: time.Since(start), frozen: f}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, freezeErr
	}
	if err := backupDatabase(ctx, src, dest); err != nil {
		return nil, err
	}
	return &DB{Path: dest, Method: MethodOnlineBackup, Took: time.Since(start), Reason: freezeErr.Error()}, nil
}

// Replace is the archive's replacement map: database name -> the file
// read in its place (the live file itself when frozen).
func (s *Snapshot) Replace() map[string]string {
	m := make(map[string]string, len(s.DBs))
	for _, d := range s.DBs {
		m[d.Name] = d.Path
	}
	return m
}

// Release checks that no frozen database file changed since it was
// frozen, then ends the read transactions that froze them. An error means
// an archive read meanwhile may hold a torn copy. Cleanup runs even when
// ctx is done; Release is safe to call again.
func (s *Snapshot) Release(ctx context.Context) error {
	var errs []error
	for _, d := range s.DBs {
		if d.frozen == nil {
			continue
		}
		errs = append(errs, d.frozen.unchanged(), d.frozen.close(ctx))
		d.frozen = nil
	}
	return errors.Join(errs...)
}

// onlineBackup is the online backup API of the modernc.org/sqlite driver
// connection.
type onlineBackup interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// backupDatabase copies the database src into the new file dest, page by
// page, with one sqlite3_backup_step(-1): the whole copy runs inside one
// read transaction of src, so it is a transactionally consistent snapshot,
// and in WAL mode writers go on meanwhile (a rollback-journal database
// makes them wait on their busy timeout). dest is a scratch file read once
// by the archiver, so it is written without a journal and without syncs.
//
// It is only the fallback of freezeDatabase, for a database that cannot
// be frozen, because it pays for a full copy: two syscalls per 4 KiB page
// (pread from src, pwrite to dest), though less than VACUUM INTO, which it
// replaced, pays to rebuild every table and index (bench/NOTES.md has the
// figures). The copy keeps src's free pages and its WAL flag. Once
// begun, it is not interrupted by ctx: a step of several calls could
// restart from page 1 at every write to src and never finish under a
// steady writer.
func backupDatabase(ctx context.Context, src, dest string) (err error) {
	db, err := sql.Open("sqlite", sqliteDSN(src))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	return conn.Raw(func(driverConn any) error {
		ob, ok := driverConn.(onlineBackup)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T has no online backup", driverConn)
		}
		b, err := ob.NewBackup(scratchDSN(dest))
		if err != nil {
			return fmt.Errorf("begin backup: %w", err)
		}
		more, stepErr := b.Step(-1)
		finishErr := b.Finish()
		switch {
		case stepErr != nil:
			return fmt.Errorf("backup step: %w", stepErr)
		case finishErr != nil:
			return fmt.Errorf("finish backup: %w", finishErr)
		case more:
			return errors.New("backup step stopped before the last page")
		}
		return nil
	})
}

// scratchDSN opens path without a rollback journal and without syncs.
func scratchDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)"
}

// sqliteDSN is a URI filename for path with a busy timeout; the path is
// escaped so names with '?', '#' or spaces open the right file.
func sqliteDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)"
}

package sqlitesnap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestVerifyInChild: the staged databases are checked by another process
// (this test binary started again, turned into a checker by TestMain,
// as an app's main does), and its verdict comes back: ok, or broken with the reason.
func TestVerifyInChild(t *testing.T) {
	good := t.TempDir()
	makeCheckDB(t, filepath.Join(good, "data.db"), 300)
	makeCheckDB(t, filepath.Join(good, "auxiliary.db"), 10)

	pid, err := VerifyInChild(t.Context(), good, DefaultLimits(0))
	if err != nil {
		t.Fatalf("good databases: %v", err)
	}
	if pid <= 0 || pid == os.Getpid() {
		t.Fatalf("checker pid %d, this process %d: the check must run in a child", pid, os.Getpid())
	}

	notSQLite := t.TempDir()
	if err := os.WriteFile(filepath.Join(notSQLite, "data.db"), []byte("this is not sqlite"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A real database with one b-tree page overwritten: it opens, and only
	// the check finds the damage.
	damaged := t.TempDir()
	makeCheckDB(t, filepath.Join(damaged, "data.db"), 3000)
	damagePage(t, filepath.Join(damaged, "data.db"), 3)

	missing := t.TempDir()
	makeCheckDB(t, filepath.Join(missing, "auxiliary.db"), 10)

	for _, tc := range []struct{ name, dir, want string }{
		{"not sqlite", notSQLite, "data.db"},
		{"damaged page", damaged, "data.db: quick_check"},
		{"no data.db", missing, "no SQLite data.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyInChild(t.Context(), tc.dir, DefaultLimits(0))
			if !errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrCheckFailed mentioning %q", err, tc.want)
			}
		})
	}
}

// TestVerifyInChildCancelled: a cancelled restore stops its checker and
// says so; it is not reported as a verdict on the databases.
func TestVerifyInChildCancelled(t *testing.T) {
	dir := t.TempDir()
	makeCheckDB(t, filepath.Join(dir, "data.db"), 10)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := VerifyInChild(ctx, dir, DefaultLimits(0))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCheckFailed) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// damagePage overwrites page n (1-based) of the SQLite file at path with
// bytes no b-tree page can hold.
func damagePage(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const pageSize = 4096
	junk := []byte(strings.Repeat("\x0d\xff\xff\xff\x00\x07", pageSize/6+1))[:pageSize]
	if _, err := f.WriteAt(junk, (n-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// makeCheckDB creates a SQLite database at path with rows rows and closes
// it, so that everything is in the main file.
func makeCheckDB(t *testing.T, path string, rows int) {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if _, err := tx.Exec(`INSERT INTO notes (title) VALUES (?)`, fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyInChildTimeout: a checker that hangs (here it waits on a lock
// this process holds, for longer than its time) is killed when its time is
// up, and the error says so rather than judging the databases.
func TestVerifyInChildTimeout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	makeCheckDB(t, path, 10)
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	lim := DefaultLimits(0)
	lim.Timeout = 2 * time.Second // the checker would wait its busy timeout (10 s) for the lock
	_, err = VerifyInChild(t.Context(), dir, lim)
	if !errors.Is(err, ErrCheckerLimit) || errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("err = %v, want ErrCheckerLimit for a killed checker", err)
	}
}

// TestVerifyInChildMemoryLimit: a database whose check needs more memory
// than the checker's budget makes the check fail as out of memory, not as
// a verdict. The database is a sparse file of 2^30 pages of 512 bytes whose
// header does not vouch for its size, so quick_check allocates a bit per
// page (128 MiB) before it reads anything; the budget is 32 MiB.
func TestVerifyInChildMemoryLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the hard memory limit (RLIMIT_AS over the current size) is Linux's")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA page_size=512", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Offset 92, "version-valid-for", no longer matching the change counter
	// at 24: SQLite then takes the database's size from the file's.
	if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, 92); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(512 << 30); err != nil {
		f.Close()
		t.Skipf("no sparse file of 512 GiB here: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	lim := DefaultLimits(0)
	lim.Memory = 32 << 20
	_, err = VerifyInChild(t.Context(), dir, lim)
	if !errors.Is(err, ErrCheckerLimit) || errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("err = %v, want ErrCheckerLimit for a checker out of memory", err)
	}
	t.Log(err)
}

// TestVerifyInChildIgnoresHeaderCacheSize: a database's header suggests a
// page cache of a million pages; the checker keeps its own small cache, so
// checking a database larger than its memory budget still succeeds.
func TestVerifyInChildIgnoresHeaderCacheSize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE TABLE t (x)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 12000) INSERT INTO t SELECT zeroblob(4000) FROM n"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Offset 48: the suggested cache size, in pages.
	if _, err := f.WriteAt([]byte{0x00, 0x0f, 0x42, 0x40}, 48); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	lim := DefaultLimits(0)
	lim.Memory = 24 << 20 // about half the database
	if _, err := VerifyInChild(t.Context(), dir, lim); err != nil {
		t.Fatalf("a sound database failed its check: %v", err)
	}
}

// TestVerifyInChildNeedsCheckerChild: in an app whose main never called
// CheckerChild, the executable started again would run the app, not the
// check: VerifyInChild refuses to start it and says why.
func TestVerifyInChildNeedsCheckerChild(t *testing.T) {
	checkerCalled.Store(false)
	defer checkerCalled.Store(true)
	dir := t.TempDir()
	makeCheckDB(t, filepath.Join(dir, "data.db"), 10)
	pid, err := VerifyInChild(t.Context(), dir, DefaultLimits(0))
	if !errors.Is(err, ErrNoChecker) || pid != 0 {
		t.Fatalf("pid %d, err = %v; want no child and ErrNoChecker", pid, err)
	}
}

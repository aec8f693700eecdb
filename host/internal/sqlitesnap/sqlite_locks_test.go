//go:build unix

package sqlitesnap

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Environment of the lock-taking helper process (TestHelperTakeLock).
const (
	lockHelperDB  = "POCKETBACKUP_TEST_LOCK_DB"
	lockHelperHow = "POCKETBACKUP_TEST_LOCK_HOW"
)

// SQLite's lock bytes in a database file (os_unix.c): a shared lock is a
// read lock on one byte of the SHARED range, an exclusive lock a write lock
// on all of it.
const (
	sqlitePendingByte = 0x40000000
	sqliteSharedFirst = sqlitePendingByte + 2
	sqliteSharedSize  = 510
)

// TestIsSQLiteKeepsLocks: recognising the app's live databases must not
// drop the app's SQLite locks. The app (this process) holds a read
// transaction on data.db; findDatabases runs; then another process tries
// to take the lock that the read transaction holds off, and must be
// refused. Opening data.db outside SQLite (os.Open, os.ReadFile) and closing
// it would have dropped every POSIX lock of this process on the file.
func TestIsSQLiteKeepsLocks(t *testing.T) {
	for _, tc := range []struct {
		journal string
		how     string // what the other process tries
	}{
		// BEGIN EXCLUSIVE: the write lock a writer takes to commit over
		// our reader.
		{"delete", "exclusive"},
		// In WAL mode a writer does not lock the database file; a closing
		// connection takes its exclusive lock to learn whether it is the
		// last one, then checkpoints and deletes the WAL under our reader.
		{"wal", "fcntl"},
	} {
		t.Run(tc.journal, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			db := openTestDB(t, path, tc.journal)
			if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a database"), 0o600); err != nil {
				t.Fatal(err)
			}
			conn, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(t.Context(), "BEGIN"); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(t.Context(), "ROLLBACK")
			var n int
			if err := conn.QueryRowContext(t.Context(), "SELECT count(*) FROM rows").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if out := takeLockInHelper(t, path, tc.how); out != "REFUSED" {
				t.Fatalf("before findDatabases, the other process's lock: %s, want REFUSED", out)
			}
			names, err := findDatabases(t.Context(), dir)
			if err != nil || len(names) != 1 || names[0] != "data.db" {
				t.Fatalf("findDatabases = %q, %v; want [data.db]", names, err)
			}
			if out := takeLockInHelper(t, path, tc.how); out != "REFUSED" {
				t.Fatalf("after findDatabases, the other process's lock: %s, want REFUSED (the app's locks were dropped)", out)
			}
		})
	}
}

// takeLockInHelper runs TestHelperTakeLock in a child process and returns
// what it reports: REFUSED or TAKEN.
func takeLockInHelper(t *testing.T, path, how string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTakeLock$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperDB+"="+path, lockHelperHow+"="+how)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "LOCK "); ok {
			return v
		}
	}
	t.Fatalf("lock helper: %v\n%s", err, out)
	return ""
}

// TestHelperTakeLock is the other process of TestIsSQLiteKeepsLocks: it
// tries, without waiting, to take an exclusive lock on a database.
func TestHelperTakeLock(t *testing.T) {
	path := os.Getenv(lockHelperDB)
	if path == "" {
		return // only meaningful as the helper process
	}
	var err error
	switch how := os.Getenv(lockHelperHow); how {
	case "exclusive":
		err = beginExclusive(path)
	case "fcntl":
		err = lockSharedRange(path)
	default:
		t.Fatalf("unknown way %q", how)
	}
	if err != nil {
		fmt.Println("LOCK REFUSED")
		t.Log(err)
		return
	}
	fmt.Println("LOCK TAKEN")
}

// beginExclusive takes SQLite's exclusive lock on path with no busy wait.
func beginExclusive(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("BEGIN EXCLUSIVE"); err != nil {
		return err
	}
	_, _ = db.Exec("ROLLBACK")
	return nil
}

// lockSharedRange write-locks SQLite's SHARED range of path with F_SETLK.
func lockSharedRange(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: sqliteSharedFirst, Len: sqliteSharedSize}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}

// TestIsSQLite: what SQLite recognises, and nothing is created beside
// files that are not databases.
func TestIsSQLite(t *testing.T) {
	dir := t.TempDir()
	openTestDB(t, filepath.Join(dir, "wal.db"), "wal")
	openTestDB(t, filepath.Join(dir, "rollback.db"), "delete")
	for name, content := range map[string]string{
		"notes.txt": "not a database",
		"empty":     "",
		"short":     "SQLite format 3\x00",
		"fake.db":   "SQLite format 3\x00" + strings.Repeat("\xff", 4096),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{
		"wal.db": true, "rollback.db": true, "notes.txt": false, "empty": false, "short": false, "missing": false,
		"fake.db": false, // SQLite's verdict: its header is damaged
	} {
		got, err := isSQLite(t.Context(), filepath.Join(dir, name))
		if err != nil || got != want {
			t.Errorf("isSQLite(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"notes.txt", "empty", "short", "missing", "fake.db"} {
		for _, suffix := range []string{"-wal", "-shm", "-journal"} {
			if _, err := os.Lstat(filepath.Join(dir, name+suffix)); err == nil {
				t.Errorf("%s%s was created", name, suffix)
			}
		}
	}
}

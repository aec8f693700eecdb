package sqlitesnap

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// openTestDB opens path as the apps do: WAL (or journalMode), synchronous
// NORMAL, a busy timeout and immediate write transactions.
func openTestDB(t *testing.T, path, journalMode string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode("+journalMode+")&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// appWriter inserts rows 1, 2, 3… into db, one commit per tick, as an app
// would, and records how far it got and its slowest insert.
type appWriter struct {
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	committed int // acknowledged
	slowest   time.Duration
	err       error
}

// startWriter starts an appWriter whose rows carry blob random bytes.
func startWriter(t *testing.T, db *sql.DB, blob int) *appWriter {
	t.Helper()
	w := &appWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for seq := 1; ; seq++ {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			start := time.Now()
			_, err := db.Exec(`INSERT INTO rows (seq, body) VALUES (?, randomblob(?))`, seq, blob)
			took := time.Since(start)
			w.mu.Lock()
			w.slowest = max(w.slowest, took)
			if err != nil {
				w.err = err
			} else {
				w.committed = seq
			}
			w.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *appWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.committed
}

// halt stops the writer and waits for it; it may be called again.
func (w *appWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// waitFor polls cond until it holds, or fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fileSum is the sha256 of the file at path.
func fileSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// standaloneCopy copies the bytes of the file at path, as the archiver
// reads them (without any -wal), into a fresh directory and opens the copy.
func standaloneCopy(t *testing.T, path string) *sql.DB {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(dest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", sqliteDSN(dest))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dbOf returns the snapshot of the database name.
func dbOf(t *testing.T, s *Snapshot, name string) *DB {
	t.Helper()
	for _, d := range s.DBs {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no snapshot of %s", name)
	return nil
}

func integrity(t *testing.T, db *sql.DB) string {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func positiveSeqs(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT seq FROM rows WHERE seq > 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var seqs []int
	for rows.Next() {
		var s int
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Ints(seqs)
	return seqs
}

// checkPrefix fails unless snap holds exactly the rows 1..k, with k at
// least atLeast and at most atMost, and passes integrity_check.
func checkPrefix(t *testing.T, snap *sql.DB, atLeast, atMost int) int {
	t.Helper()
	if res := integrity(t, snap); res != "ok" {
		t.Fatalf("integrity_check: %s", res)
	}
	seqs := positiveSeqs(t, snap)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("snapshot rows are not a prefix: row %d is %d", i+1, s)
		}
	}
	if len(seqs) < atLeast || len(seqs) > atMost {
		t.Fatalf("snapshot holds rows 1..%d; want at least %d, at most %d", len(seqs), atLeast, atMost)
	}
	return len(seqs)
}

// TestFrozenSnapshotUnderWriter freezes two WAL databases while a writer
// commits to one every ms: the writer goes on (no insert stalls over
// 100 ms) while the frozen file stays byte for byte the same, and its
// bytes alone are a sound database holding exactly the rows committed
// before the snapshot.
func TestFrozenSnapshotUnderWriter(t *testing.T) {
	dataDir, snapDir := t.TempDir(), t.TempDir()
	dataPath := filepath.Join(dataDir, "data.db")
	db := openTestDB(t, dataPath, "WAL")
	if _, err := db.Exec(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000)
		INSERT INTO rows (seq, body) SELECT -i, randomblob(1000) FROM c`); err != nil {
		t.Fatal(err)
	}
	aux := openTestDB(t, filepath.Join(dataDir, "auxiliary.db"), "WAL")
	if _, err := aux.Exec(`INSERT INTO rows (seq, body) VALUES (1, 'aux')`); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}

	w := startWriter(t, db, 100)
	waitFor(t, "the writer to get going", func() bool { return w.count() >= 20 })
	before := w.count()
	s, err := Take(context.Background(), dataDir, snapDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Release(context.Background()) })
	atFreeze := w.count()
	for _, name := range []string{"data.db", "auxiliary.db"} {
		if d := dbOf(t, s, name); d.Method != MethodFrozenWAL {
			t.Fatalf("%s: method %s (%s), want %s", name, d.Method, d.Reason, MethodFrozenWAL)
		}
	}
	want := map[string]string{"data.db": dataPath, "auxiliary.db": filepath.Join(dataDir, "auxiliary.db")}
	if got := s.Replace(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replace = %v, want %v", got, want)
	}
	if left, _ := os.ReadDir(snapDir); len(left) != 0 {
		t.Fatalf("frozen databases were copied: %v", left)
	}

	writeLock := dbOf(t, s, "data.db").frozen.writeLock
	sum := fileSum(t, dataPath)
	snap := standaloneCopy(t, dataPath)
	waitFor(t, "50 commits while frozen", func() bool { return w.count() >= atFreeze+50 })
	if fileSum(t, dataPath) != sum {
		t.Fatal("the frozen file changed while held")
	}
	if err := s.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
	w.halt()
	if w.err != nil {
		t.Fatalf("writer failed: %v", w.err)
	}
	if w.slowest > 100*time.Millisecond {
		t.Fatalf("an insert stalled for %v", w.slowest)
	}

	// A commit may land before its Exec returns: at most one more row.
	k := checkPrefix(t, snap, before, atFreeze+1)
	var bulk int
	if err := snap.QueryRow(`SELECT count(*) FROM rows WHERE seq < 0`).Scan(&bulk); err != nil || bulk != 4000 {
		t.Fatalf("bulk rows: %d, %v", bulk, err)
	}
	t.Logf("rows committed before the snapshot %d, at its end %d, in it %d, by the end %d; write lock %v; slowest insert %v",
		before, atFreeze, k, w.committed, writeLock, w.slowest)
}

// TestFrozenSnapshotBlocksCheckpoints writes well past the auto-checkpoint
// threshold (1000 pages) while a database is frozen: no checkpoint, the
// app's automatic ones nor an explicit one, touches the file; once
// released, a checkpoint completes again.
func TestFrozenSnapshotBlocksCheckpoints(t *testing.T) {
	dataDir := t.TempDir()
	dataPath := filepath.Join(dataDir, "data.db")
	db := openTestDB(t, dataPath, "WAL")
	probe := openTestDB(t, dataPath, "WAL")
	var autoCheckpoint int
	if err := db.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&autoCheckpoint); err != nil || autoCheckpoint != 1000 {
		t.Fatalf("wal_autocheckpoint = %d, %v", autoCheckpoint, err)
	}
	w := startWriter(t, db, 4096)
	waitFor(t, "the writer to get going", func() bool { return w.count() >= 20 })
	before := w.count()
	s, err := Take(context.Background(), dataDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Release(context.Background()) })
	atFreeze := w.count()
	if d := dbOf(t, s, "data.db"); d.Method != MethodFrozenWAL {
		t.Fatalf("method %s (%s), want %s", d.Method, d.Reason, MethodFrozenWAL)
	}
	sum := fileSum(t, dataPath)
	snap := standaloneCopy(t, dataPath)

	// Each 4 KiB row takes an overflow page: 1200 frames not backfilled
	// means hundreds of commits past the threshold, each followed by an
	// automatic checkpoint attempt, and ours.
	var last walCheckpoint
	waitFor(t, "1200 frames in the WAL", func() bool {
		if err := probe.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&last.busy, &last.log, &last.checkpointed); err != nil {
			t.Fatal(err)
		}
		if fileSum(t, dataPath) != sum {
			t.Fatalf("a checkpoint wrote the frozen file (WAL: %+v)", last)
		}
		return last.log-last.checkpointed >= 1200
	})
	if err := s.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
	w.halt()
	if w.err != nil {
		t.Fatalf("writer failed: %v", w.err)
	}
	checkPrefix(t, snap, before, atFreeze+1)

	var after walCheckpoint
	if err := probe.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&after.busy, &after.log, &after.checkpointed); err != nil {
		t.Fatal(err)
	}
	if !after.complete() || fileSum(t, dataPath) == sum {
		t.Fatalf("after release: checkpoint %+v, file changed %v", after, fileSum(t, dataPath) != sum)
	}
	t.Logf("while frozen: %d frames in the WAL, %d backfilled; %d rows committed", last.log, last.checkpointed, w.committed-atFreeze)
}

// TestSnapshotFallback copies with the online backup API the databases
// that cannot be frozen: one in rollback-journal mode, and a WAL database
// whose checkpoint an older reader holds back. A WAL database with frames
// not yet checkpointed is frozen. Every snapshot holds every committed row.
func TestSnapshotFallback(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		oldReader  bool
		method     string
		reason     string
	}{
		{"wal", "WAL", false, MethodFrozenWAL, ""},
		{"rollback journal", "DELETE", false, MethodOnlineBackup, "journal mode delete"},
		{"old reader", "WAL", true, MethodOnlineBackup, "checkpoint incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, snapDir := t.TempDir(), t.TempDir()
			dataPath := filepath.Join(dataDir, "data.db")
			db := openTestDB(t, dataPath, tc.mode)
			for i := 1; i <= 50; i++ {
				if _, err := db.Exec(`INSERT INTO rows (seq, body) VALUES (?, ?)`, i, fmt.Sprint("row ", i)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.oldReader {
				reader, err := openTestDB(t, dataPath, tc.mode).Conn(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				defer reader.Close()
				var n int
				if _, err := reader.ExecContext(context.Background(), "BEGIN"); err != nil {
					t.Fatal(err)
				}
				if err := reader.QueryRowContext(context.Background(), `SELECT count(*) FROM rows`).Scan(&n); err != nil || n != 50 {
					t.Fatalf("old reader: %d rows, %v", n, err)
				}
				defer reader.ExecContext(context.Background(), "ROLLBACK")
				if _, err := db.Exec(`INSERT INTO rows (seq, body) VALUES (51, 'after the reader')`); err != nil {
					t.Fatal(err)
				}
			}
			committed := len(positiveSeqs(t, db))

			s, err := Take(context.Background(), dataDir, snapDir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Release(context.Background())
			d := dbOf(t, s, "data.db")
			if d.Method != tc.method || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("method %s (reason %q), want %s (%q)", d.Method, d.Reason, tc.method, tc.reason)
			}
			wantPath := dataPath
			if tc.method == MethodOnlineBackup {
				wantPath = filepath.Join(snapDir, "data.db")
			}
			if got := s.Replace()["data.db"]; got != wantPath {
				t.Fatalf("replace data.db = %s, want %s", got, wantPath)
			}
			checkPrefix(t, standaloneCopy(t, wantPath), committed, committed)
			if err := s.Release(context.Background()); err != nil {
				t.Fatalf("release: %v", err)
			}
		})
	}
}

// TestReleaseDetectsChange: a frozen file whose modification time or size
// changed while held fails the release, which still ends the read
// transaction.
func TestReleaseDetectsChange(t *testing.T) {
	for name, change := range map[string]func(path string) error{
		"mtime": func(path string) error {
			later := time.Now().Add(time.Minute)
			return os.Chtimes(path, later, later)
		},
		"size": func(path string) error {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			_, err = f.Write(make([]byte, 4096))
			return errors.Join(err, f.Close())
		},
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			dataPath := filepath.Join(dataDir, "data.db")
			db := openTestDB(t, dataPath, "WAL")
			s, err := Take(context.Background(), dataDir, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if d := dbOf(t, s, "data.db"); d.Method != MethodFrozenWAL {
				t.Fatalf("method %s (%s)", d.Method, d.Reason)
			}
			if err := change(dataPath); err != nil {
				t.Fatal(err)
			}
			err = s.Release(context.Background())
			if err == nil || !strings.Contains(err.Error(), "database data.db changed while it was archived") {
				t.Fatalf("release = %v, want a change reported", err)
			}
			if err := s.Release(context.Background()); err != nil {
				t.Fatalf("second release: %v", err)
			}
			// The read transaction is over: a checkpoint completes.
			if _, err := db.Exec(`INSERT INTO rows (seq, body) VALUES (1, 'x')`); err != nil {
				t.Fatal(err)
			}
			var c walCheckpoint
			if err := db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&c.busy, &c.log, &c.checkpointed); err != nil || !c.complete() {
				t.Fatalf("checkpoint after release: %+v, %v", c, err)
			}
		})
	}
}

// TestSnapshotMissingDir reports a data directory that is not there.
func TestSnapshotMissingDir(t *testing.T) {
	_, err := Take(context.Background(), filepath.Join(t.TempDir(), "nope"), t.TempDir())
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

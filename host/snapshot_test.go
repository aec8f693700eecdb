package host

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// openTestDB opens path as the apps do: WAL (or journalMode), with a busy
// timeout and immediate write transactions.
func openTestDB(t *testing.T, path, journalMode string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode("+journalMode+")&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestSnapshotConsistentWhileWriting snapshots a WAL database while a
// writer commits rows 1, 2, 3… as fast as it can: the snapshot passes
// integrity_check and holds exactly the rows 1..k, with k at least what was
// committed before the snapshot began, and the writer never fails.
func TestSnapshotConsistentWhileWriting(t *testing.T) {
	dataDir, snapDir := t.TempDir(), t.TempDir()
	db := openTestDB(t, filepath.Join(dataDir, "data.db"), "WAL")
	// Enough pages that the copy takes a while.
	if _, err := db.Exec(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000)
		INSERT INTO rows (seq, body) SELECT -i, hex(randomblob(1000)) FROM c`); err != nil {
		t.Fatal(err)
	}
	aux := openTestDB(t, filepath.Join(dataDir, "auxiliary.db"), "WAL")
	if _, err := aux.Exec(`INSERT INTO rows (seq, body) VALUES (1, 'aux')`); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}

	var (
		mu        sync.Mutex
		committed int
		writeErr  error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := 1; ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.Exec(`INSERT INTO rows (seq, body) VALUES (?, 'row')`, seq); err != nil {
				mu.Lock()
				writeErr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			committed = seq
			mu.Unlock()
		}
	}()
	for { // let the writer get going
		mu.Lock()
		n := committed
		mu.Unlock()
		if n >= 20 {
			break
		}
	}
	mu.Lock()
	before := committed
	mu.Unlock()
	replace, err := snapshotDatabases(context.Background(), dataDir, snapDir)
	mu.Lock()
	after := committed
	mu.Unlock()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil {
		t.Fatalf("writer failed during the snapshot: %v", writeErr)
	}
	if len(replace) != 2 || replace["data.db"] != filepath.Join(snapDir, "data.db") || replace["auxiliary.db"] != filepath.Join(snapDir, "auxiliary.db") {
		t.Fatalf("replace = %v", replace)
	}
	if after == before {
		t.Logf("the writer committed nothing during the snapshot (%d rows before)", before)
	}

	snap, err := sql.Open("sqlite", sqliteDSN(replace["data.db"]))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if res := integrity(t, snap); res != "ok" {
		t.Fatalf("integrity_check: %s", res)
	}
	seqs := positiveSeqs(t, snap)
	if len(seqs) < before || len(seqs) > after+1 {
		t.Fatalf("snapshot holds %d rows; %d were committed before it began, %d when it ended", len(seqs), before, after)
	}
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("snapshot rows are not a prefix: row %d is %d", i+1, s)
		}
	}
	var copies int
	if err := snap.QueryRow(`SELECT count(*) FROM rows WHERE seq < 0`).Scan(&copies); err != nil || copies != 4000 {
		t.Fatalf("bulk rows: %d, %v", copies, err)
	}
	t.Logf("rows committed before the snapshot %d, after %d, in it %d", before, after, len(seqs))
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

// TestSnapshotRollbackJournal snapshots a database in rollback-journal
// mode (an app that never switched to WAL) and one with uncheckpointed
// WAL frames: both copies hold every committed row.
func TestSnapshotRollbackJournal(t *testing.T) {
	for _, mode := range []string{"DELETE", "WAL"} {
		t.Run(mode, func(t *testing.T) {
			dataDir, snapDir := t.TempDir(), t.TempDir()
			db := openTestDB(t, filepath.Join(dataDir, "data.db"), mode)
			for i := 1; i <= 50; i++ {
				if _, err := db.Exec(`INSERT INTO rows (seq, body) VALUES (?, ?)`, i, fmt.Sprint("row ", i)); err != nil {
					t.Fatal(err)
				}
			}
			replace, err := snapshotDatabases(context.Background(), dataDir, snapDir)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := sql.Open("sqlite", sqliteDSN(replace["data.db"]))
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			if res := integrity(t, snap); res != "ok" {
				t.Fatalf("integrity_check: %s", res)
			}
			if seqs := positiveSeqs(t, snap); len(seqs) != 50 {
				t.Fatalf("snapshot holds %d rows, want 50", len(seqs))
			}
		})
	}
}

// TestSnapshotMissingDir reports a data directory that is not there.
func TestSnapshotMissingDir(t *testing.T) {
	_, err := snapshotDatabases(context.Background(), filepath.Join(t.TempDir(), "nope"), t.TempDir())
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

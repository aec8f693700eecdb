package sqlitesnap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVerifyChangedChecksOnlyWhatChanged: a restore's databases are
// stamped at staging; at start only what no longer matches its stamp is
// checked again. The damaged data.db here proves it: while it matches its
// stamp it is not read (the staging check answered for those bytes); once
// anything about it changes it is checked, and fails.
func TestVerifyChangedChecksOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	data, aux := filepath.Join(dir, "data.db"), filepath.Join(dir, "auxiliary.db")
	makeCheckDB(t, data, 3000)
	damagePage(t, data, 3)
	makeCheckDB(t, aux, 10)
	if err := os.WriteFile(filepath.Join(dir, "data.db-shm"), []byte("index"), 0o600); err != nil {
		t.Fatal(err)
	}
	stamps, err := Stamp(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range stamps {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"auxiliary.db", "data.db"}) {
		t.Fatalf("stamped %v, want the databases without the -shm", names)
	}
	if again, err := Stamp(dir, stamps); err != nil || !slices.Equal(again, stamps) {
		t.Fatalf("stamping unchanged files again = %v, %v", again, err)
	}

	verify := func(want []string, wantErr string) {
		t.Helper()
		got, err := VerifyChanged(t.Context(), dir, stamps)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("VerifyChanged: err %v, want %q", err, wantErr)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("VerifyChanged checked %v, want %v", got, want)
		}
	}
	verify(nil, "")
	if _, err := VerifyChanged(t.Context(), dir, nil); err == nil || !strings.Contains(err.Error(), "quick_check") {
		t.Fatalf("without stamps everything is checked: err %v", err)
	}

	// The -shm index changes freely.
	if err := os.WriteFile(filepath.Join(dir, "data.db-shm"), []byte("another index"), 0o600); err != nil {
		t.Fatal(err)
	}
	verify(nil, "")

	// A copy of data.db, another inode with the same bytes: the digest
	// proves it unchanged.
	copyFile(t, data, data+".tmp")
	if err := os.Rename(data+".tmp", data); err != nil {
		t.Fatal(err)
	}
	verify(nil, "")

	// auxiliary.db written: checked again, and sound.
	addCheckRows(t, aux)
	verify([]string{"auxiliary.db"}, "")
	stamps, err = Stamp(dir, stamps)
	if err != nil {
		t.Fatal(err)
	}
	verify(nil, "")

	// A -wal appears beside data.db: data.db's content may differ.
	if err := os.WriteFile(data+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	verify([]string{"data.db"}, "data.db: quick_check")
	if err := os.Remove(data + "-wal"); err != nil {
		t.Fatal(err)
	}

	// data.db touched (same bytes, another modification time, same inode):
	// its size matches, so the digest decides: unchanged.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(data, later, later); err != nil {
		t.Fatal(err)
	}
	verify(nil, "")

	// data.db gone.
	if err := os.Rename(data, data+".away"); err != nil {
		t.Fatal(err)
	}
	verify(nil, "no SQLite data.db")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func addCheckRows(t *testing.T, path string) {
	t.Helper()
	db := openTestDB(t, path, "delete")
	if _, err := db.Exec(`INSERT INTO notes (title) VALUES ('later')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

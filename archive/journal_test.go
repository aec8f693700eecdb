package archive

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestRollbackJournal(t *testing.T) {
	for name, want := range map[string]bool{
		"data.db-journal": true, "auxiliary.db-journal": true, "storage/x/app.sqlite-journal": true, "a-journal": true,
		"data.db": false, "data.db-wal": false, "data.db-shm": false, "-journal": false, "journal": false,
		"data.db-journal/": false, "data.db-journal/x": false, "data.db-journal.txt": false,
	} {
		if got := RollbackJournal(name); got != want {
			t.Errorf("RollbackJournal(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestExtractSkipsRollbackJournals: a crafted archive carrying rollback
// journals beside its databases is checked and extracted without them;
// WAL files stay. Check and Extract report the same summary, whose counts
// are what was extracted, and the progress ends at its TotalBytes.
func TestExtractSkipsRollbackJournals(t *testing.T) {
	hostile := bytes.Repeat([]byte("\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"), 64) // a journal header's magic, repeated
	z := buildZip(t,
		file("data.db", "SQLite format 3\x00 restored data"),
		zipEntry{name: "data.db-journal", body: hostile},
		file("data.db-wal", "wal frames"),
		file("auxiliary.db", "SQLite format 3\x00 aux"),
		zipEntry{name: "auxiliary.db-journal", body: hostile},
		zipEntry{name: "storage/"},
		file("storage/col/app.sqlite-journal", "nested"),
		file("storage/col/photo.jpg", "jpeg"),
		zipEntry{name: "dir-journal/"}, // a directory, not a journal
	)
	want := Summary{
		Entries:    6,
		TotalBytes: int64(len("SQLite format 3\x00 restored data") + len("wal frames") + len("SQLite format 3\x00 aux") + len("jpeg")),
		HasDataDB:  true,
		Skipped:    []string{"data.db-journal", "auxiliary.db-journal", "storage/col/app.sqlite-journal"},
	}
	checked, err := Check(bytes.NewReader(z), int64(len(z)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(checked, want) {
		t.Fatalf("Check = %+v, want %+v", checked, want)
	}
	for _, e := range []Engine{EngineGo, EngineAuto} {
		parent, dest := stagingDir(t)
		var done, total int64
		extracted, err := ExtractWith(context.Background(), bytes.NewReader(z), int64(len(z)), dest,
			ExtractOptions{Progress: func(d, tt int64) { done, total = d, tt }, Engine: e})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(extracted, checked) {
			t.Errorf("Extract = %+v, Check = %+v", extracted, checked)
		}
		if done != want.TotalBytes || total != want.TotalBytes {
			t.Errorf("progress ended at %d of %d, want %d", done, total, want.TotalBytes)
		}
		var got []string
		err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dest, p)
				got = append(got, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if wantFiles := []string{"auxiliary.db", "data.db", "data.db-wal", "storage/col/photo.jpg"}; !slices.Equal(got, wantFiles) {
			t.Errorf("extracted %q, want %q", got, wantFiles)
		}
		if info, err := os.Stat(filepath.Join(dest, "dir-journal")); err != nil || !info.IsDir() {
			t.Errorf("directory dir-journal: %v", err)
		}
		assertContained(t, parent)
	}
}

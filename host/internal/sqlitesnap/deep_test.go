package sqlitesnap

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeepCheckInChild: a deep check in the checker process reports the
// databases checked and data.db's tables with their row counts, and
// refuses a database whose pages were damaged (as one arrives from an
// archive whose CRCs were recomputed over the damage: nothing but the
// database check can see it).
func TestDeepCheckInChild(t *testing.T) {
	good := t.TempDir()
	makeCheckDB(t, filepath.Join(good, "data.db"), 300)
	makeCheckDB(t, filepath.Join(good, "auxiliary.db"), 10)
	rep, err := DeepCheckInChild(t.Context(), good, DefaultLimits(0))
	if err != nil {
		t.Fatalf("good databases: %v", err)
	}
	if len(rep.Databases) != 2 || len(rep.Tables) != 1 || rep.Tables[0] != (TableRows{Name: "notes", Rows: 300}) {
		t.Errorf("report = %+v, want 2 databases and notes with 300 rows", rep)
	}

	damaged := t.TempDir()
	makeCheckDB(t, filepath.Join(damaged, "data.db"), 3000)
	damagePage(t, filepath.Join(damaged, "data.db"), 3)
	_, err = DeepCheckInChild(t.Context(), damaged, DefaultLimits(0))
	if !errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), "data.db: integrity_check") {
		t.Fatalf("damaged: err = %v, want ErrCheckFailed naming data.db's integrity_check", err)
	}
}

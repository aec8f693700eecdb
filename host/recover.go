package host

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/pocketbackup/pocketbackup/restore"
)

// Recover settles the data directory after a restart: it completes or
// rolls back a restore the previous process left unfinished, verifies the
// restored databases (PRAGMA quick_check) and puts the old data back when
// they fail, and records the outcome for /api/health. Call it at start,
// before anything opens a file in dataDir. An error means the data
// directory could not be settled: the app must not start.
func Recover(ctx context.Context, dataDir string, log hclog.Logger) error {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	out, err := restore.Recover(stateDir(dataDir), func(dir string) error { return verifyDatabases(ctx, dir) }, nil)
	if err != nil {
		return fmt.Errorf("recover restore: %w", err)
	}
	if !out.Found {
		return nil
	}
	outcome := &Outcome{Kind: KindRestore, Key: out.Key, OK: out.Restored,
		Started: formatTime(out.Started), Finished: formatTime(out.Finished)}
	if out.Restored {
		log.Info("restore completed", "key", out.Key)
	} else {
		log.Error("restored data failed verification; the old data is back", "key", out.Key, "error", out.Err)
		outcome.Error = "Failed to restore backup: the restored databases failed verification; the previous data was kept."
	}
	return saveOutcome(dataDir, outcome)
}

// verifyDatabases opens every SQLite database at the top of dir and runs
// PRAGMA quick_check; data.db must be there.
func verifyDatabases(ctx context.Context, dir string) error {
	names, err := findDatabases(ctx, dir)
	if err != nil {
		return err
	}
	if !slices.Contains(names, "data.db") {
		return fmt.Errorf("no SQLite data.db")
	}
	for _, name := range names {
		if err := quickCheck(ctx, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func quickCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", checkDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&result); err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if result != "ok" {
		return fmt.Errorf("quick_check: %s", result)
	}
	return nil
}

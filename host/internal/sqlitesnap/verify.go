package sqlitesnap

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
)

// Verify opens every SQLite database at the top of dir and runs PRAGMA
// quick_check; data.db must be there.
func Verify(ctx context.Context, dir string) error {
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

package sqlitesnap

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A backup's deep verification checks its extracted databases harder than
// a restore's staging does: PRAGMA integrity_check (which also checks
// every index against its table, where quick_check does not), and a count
// of the rows of every table of data.db, so an operator sees what the
// backup holds. It runs in the bounded checker process, for the reasons
// given at checkerEnv.

// maxReportTables caps the tables a Report lists.
const maxReportTables = 500

// maxIntegrityLines caps the lines of integrity_check's complaints kept.
const maxIntegrityLines = 5

// deepOutMax caps what the deep checker may print (its Report).
const deepOutMax = 64 << 10

// TableRows is one table of data.db and its row count.
type TableRows struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Report is what a deep check found in a sound backup.
type Report struct {
	// Databases are the SQLite databases checked, by name.
	Databases []string `json:"databases"`
	// Tables are data.db's tables (at most maxReportTables), by name.
	Tables []TableRows `json:"tables"`
	// MoreTables counts the tables left out of Tables.
	MoreTables int `json:"moreTables,omitempty"`
}

// DeepCheck runs integrity_check on every SQLite database at the top of
// dir (data.db must be one) and counts the rows of data.db's tables.
func DeepCheck(ctx context.Context, dir string) (Report, error) {
	names, err := findDatabases(ctx, dir)
	if err != nil {
		return Report{}, err
	}
	if !slices.Contains(names, "data.db") {
		return Report{}, errors.New("no SQLite data.db")
	}
	for _, name := range names {
		if err := integrityCheck(ctx, filepath.Join(dir, name)); err != nil {
			return Report{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	tables, more, err := countRows(ctx, filepath.Join(dir, "data.db"))
	if err != nil {
		return Report{}, fmt.Errorf("data.db: %w", err)
	}
	return Report{Databases: names, Tables: tables, MoreTables: more}, nil
}

func integrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", checkDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() && len(lines) < maxIntegrityLines {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity_check: %w", err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(lines) != 1 || lines[0] != "ok" {
		return fmt.Errorf("integrity_check: %s", strings.Join(lines, "; "))
	}
	return nil
}

// countRows lists data.db's tables with their row counts.
func countRows(ctx context.Context, path string) ([]TableRows, int, error) {
	db, err := sql.Open("sqlite", checkDSN(path))
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	if err != nil {
		return nil, 0, fmt.Errorf("list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list tables: %w", err)
	}
	more := max(0, len(names)-maxReportTables)
	names = names[:len(names)-more]
	out := make([]TableRows, 0, len(names))
	for _, name := range names {
		var n int64
		q := `SELECT count(*) FROM "` + strings.ReplaceAll(name, `"`, `""`) + `"`
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return nil, 0, fmt.Errorf("count rows of %q: %w", name, err)
		}
		out = append(out, TableRows{Name: name, Rows: n})
	}
	return out, more, nil
}

// runDeepChecker is the deep checker process: DeepCheck under the memory
// budget, its Report printed as JSON on success.
func runDeepChecker(dir string, budget int64) int {
	if budget > 0 {
		if err := limitMemory(budget); err != nil {
			fmt.Fprintf(os.Stderr, "limit memory: %v", err)
			return 1
		}
	}
	rep, err := DeepCheck(context.Background(), dir)
	if err != nil {
		fmt.Fprint(os.Stdout, err)
		if outOfMemory(err) {
			return checkerOutOfMemory
		}
		return checkerVerdict
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "report: %v", err)
		return 1
	}
	return 0
}

// DeepCheckInChild runs DeepCheck on dir in a checker process bounded by
// lim (see VerifyInChild for its errors) and returns its Report.
func DeepCheckInChild(ctx context.Context, dir string, lim Limits) (Report, error) {
	out, _, err := runChild(ctx, dir, lim, []string{checkerDeepEnv + "=1"}, deepOutMax)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return Report{}, fmt.Errorf("database checker: unreadable report: %w", err)
	}
	return rep, nil
}

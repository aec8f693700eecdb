package sqlitesnap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pocketbackup/pocketbackup/internal/filestamp"
)

// VerifyChanged is Verify for a data directory whose files were checked
// before, while staged, and stamped then (checked): a database is checked
// again only when it, its -wal or its -journal no longer matches its
// stamp (written, replaced, appeared or gone since). The -shm index is
// not part of a database's content: SQLite rebuilds it. With no stamps it
// is Verify. It returns the names of the databases it checked.
func VerifyChanged(ctx context.Context, dir string, checked []filestamp.Stamp) ([]string, error) {
	if len(checked) == 0 {
		names, err := findDatabases(ctx, dir)
		if err != nil {
			return nil, err
		}
		return names, Verify(ctx, dir)
	}
	changed, err := changedFiles(dir, checked)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(dir, "data.db")); err != nil {
		return nil, fmt.Errorf("no SQLite data.db")
	}
	var done []string
	for _, name := range changed {
		if _, err := os.Lstat(filepath.Join(dir, name)); os.IsNotExist(err) {
			continue // a database whose sidecars were stamped, gone with them
		}
		ok, err := isSQLite(ctx, filepath.Join(dir, name))
		if err != nil {
			return done, fmt.Errorf("%s: %w", name, err)
		}
		if !ok {
			if name == "data.db" {
				return done, fmt.Errorf("no SQLite data.db")
			}
			continue
		}
		done = append(done, name)
		if err := quickCheck(ctx, filepath.Join(dir, name)); err != nil {
			return done, fmt.Errorf("%s: %w", name, err)
		}
	}
	return done, nil
}

// changedFiles returns, sorted, the files at the top of dir (databases
// by name, for a changed -wal or -journal) that no longer match their
// stamp in checked or have none, and the stamped ones now missing.
func changedFiles(dir string, checked []filestamp.Stamp) ([]string, error) {
	names, err := filestamp.TopLevel(dir)
	if err != nil {
		return nil, fmt.Errorf("read data dir: %w", err)
	}
	stamps := make(map[string]filestamp.Stamp, len(checked))
	for _, s := range checked {
		stamps[s.Name] = s
	}
	var changed []string
	mark := func(name string) {
		db := strings.TrimSuffix(strings.TrimSuffix(name, "-wal"), "-journal")
		if !slices.Contains(changed, db) {
			changed = append(changed, db)
		}
	}
	for _, name := range names {
		if strings.HasSuffix(name, "-shm") {
			continue
		}
		s, ok := stamps[name]
		if ok {
			ok, err = filestamp.Matches(dir, s)
			if err != nil {
				return nil, fmt.Errorf("compare %s with its stamp: %w", name, err)
			}
		}
		if !ok {
			mark(name)
		}
	}
	for _, s := range checked {
		if !slices.Contains(names, s.Name) {
			mark(s.Name)
		}
	}
	slices.Sort(changed)
	return changed, nil
}

// Stamp stamps the regular files at the top of dir but the -shm indexes:
// the files a restore's check of dir covered. Files that still match
// their stamp in prev keep it without being read again.
func Stamp(dir string, prev []filestamp.Stamp) ([]filestamp.Stamp, error) {
	names, err := filestamp.TopLevel(dir)
	if err != nil {
		return nil, fmt.Errorf("stamp: %w", err)
	}
	var out []filestamp.Stamp
	for _, name := range names {
		if strings.HasSuffix(name, "-shm") {
			continue
		}
		if i := slices.IndexFunc(prev, func(s filestamp.Stamp) bool { return s.Name == name }); i >= 0 {
			if now, err := filestamp.Identity(dir, name); err == nil && now.SameIdentity(prev[i]) {
				out = append(out, prev[i])
				continue
			}
		}
		s, err := filestamp.Take(dir, name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

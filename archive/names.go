package archive

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/pocketbackup/pocketbackup/internal/safename"
)

// Longest entry name and longest element of a name [ValidName] accepts,
// in bytes. An element longer than NAME_MAX (255 on common file systems)
// could not be created: better rejected as invalid than failed on.
const (
	maxNameLen = 4096
	maxElemLen = 255
)

// ValidName reports whether a zip entry name is safe to extract: non-empty,
// at most 4096 bytes, '/'-separated with no backslash, made of characters
// the project's one character rule accepts ([safename.ValidChars]: valid
// UTF-8, no control or format character), not absolute, and made of
// non-empty elements of at most 255 bytes none of which is "." or ".."
// ("a//b", "./a" and "a/../b" are all rejected); the cleaned form must also
// satisfy [filepath.IsLocal]. A single trailing '/' marks a directory.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen || !safename.ValidChars(name) || strings.ContainsRune(name, '\\') {
		return false
	}
	rest := strings.TrimSuffix(name, "/")
	if rest == "" || strings.HasPrefix(rest, "/") {
		return false
	}
	for elem := range strings.SplitSeq(rest, "/") {
		if elem == "" || elem == "." || elem == ".." || len(elem) > maxElemLen {
			return false
		}
	}
	return filepath.IsLocal(filepath.FromSlash(path.Clean(rest)))
}

// journalSuffix ends the name of an SQLite rollback journal: the journal
// of "data.db" is "data.db-journal".
const journalSuffix = "-journal"

// RollbackJournal reports whether the entry name (valid, see [ValidName])
// names an SQLite rollback journal: a file whose last element ends in
// "-journal", at any depth. [Extract] never extracts one. A journal left
// beside a database is "hot": SQLite plays it back into the database when
// it next opens it, so a crafted journal in an uploaded archive would
// rewrite the restored database's pages at its first open, past every
// check of the archive. A database archived consistently needs none.
// WAL files ("-wal") are kept: they may hold committed transactions of a
// database archived in place, and the restore's check reads through them.
func RollbackJournal(name string) bool {
	if strings.HasSuffix(name, "/") {
		return false
	}
	base := path.Base(name)
	return len(base) > len(journalSuffix) && strings.HasSuffix(base, journalSuffix)
}

// tree collects the names of a set of entries, in any order, and refuses a
// name that would clash with one already added: the same path twice ("a"
// and "a/" count as the same), or an entry below a file ("a" and "a/b").
// Names must already be valid (see [ValidName]).
type tree struct {
	entries map[string]bool // path without trailing '/' -> is a directory
	parents map[string]bool // every proper parent of an added path
}

// add records name, a directory if it ends in '/', or tells why it clashes.
func (t *tree) add(name string) error {
	if t.entries == nil {
		t.entries = make(map[string]bool)
		t.parents = make(map[string]bool)
	}
	p := strings.TrimSuffix(name, "/")
	isDir := p != name
	if _, dup := t.entries[p]; dup {
		return errors.New("duplicate name")
	}
	if !isDir && t.parents[p] {
		return errors.New("file has entries below it")
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		if isDir, ok := t.entries[dir]; ok && !isDir {
			return fmt.Errorf("lies under file %q", dir)
		}
		if t.parents[dir] {
			break // its own parents were checked when it was added
		}
		t.parents[dir] = true
	}
	t.entries[p] = isDir
	return nil
}

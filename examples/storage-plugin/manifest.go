package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

// manifestName is the index in the store's directory; manifestTemp is
// where its next version is written before it replaces it.
const (
	manifestName = "manifest.json"
	manifestTemp = ".manifest.json.tmp"
	// tempDir holds the files being written, on the same filesystem as
	// their final place so that the rename into place is atomic.
	tempDir = ".tmp"
)

// entry is one object in the manifest.
type entry struct {
	Key      string    `json:"key"`
	Path     string    `json:"path"` // relative, with '/': "2006-01/key"
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	SHA256   string    `json:"sha256"`

	// raw is the entry's JSON, encoded once: every change rewrites the
	// whole manifest, and re-encoding thousands of entries each time
	// would dominate the cost of a commit.
	raw []byte
}

// newEntry returns e with its JSON.
func newEntry(e entry) (entry, error) {
	raw, err := json.Marshal(e)
	e.raw = raw
	return e, err
}

// manifestFile is manifest.json.
type manifestFile struct {
	Version int     `json:"version"`
	Objects []entry `json:"objects"` // sorted by key
}

// loadManifest reads dir's manifest; a missing one is an empty store.
func loadManifest(dir string) (map[string]entry, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", pathless(err))
	}
	var mf manifestFile
	if err := json.Unmarshal(data, &mf); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if mf.Version != 1 {
		return nil, fmt.Errorf("read manifest: unknown version %d", mf.Version)
	}
	m := make(map[string]entry, len(mf.Objects))
	for _, e := range mf.Objects {
		month, name, ok := strings.Cut(e.Path, "/")
		if !ok || !storage.ValidKey(e.Key) || name != e.Key || !storage.ValidKey(month) || e.Size < 0 {
			return nil, fmt.Errorf("read manifest: bad entry %q", e.Key)
		}
		if _, dup := m[e.Key]; dup {
			return nil, fmt.Errorf("read manifest: %q listed twice", e.Key)
		}
		if e, err = newEntry(e); err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		m[e.Key] = e
	}
	return m, nil
}

// saveManifest replaces dir's manifest with m, atomically and durably:
// write a temp file, fsync it, rename it over the manifest, fsync the
// directory. A crash at any point leaves the old manifest or the new one.
func saveManifest(dir string, m map[string]entry) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// manifestFile's JSON, one object a line.
	size := 64
	for _, e := range m {
		size += len(e.raw) + 4
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"version":1,"objects":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		b.Write(m[k].raw)
	}
	b.WriteString("\n]}\n")
	data := b.Bytes()

	tmp := filepath.Join(dir, manifestTemp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write manifest: %w", pathless(err))
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, manifestName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write manifest: %w", pathless(err))
	}
	return nil
}

// syncDir fsyncs a directory, so that the entries just created, renamed or
// removed in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// pathless drops the path from a *fs.PathError or *os.LinkError, keeping
// the operation and the cause (errors.Is still works): errors reach users,
// who need not learn the server's layout.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// Package filestamp proves that a file still holds the bytes it held when
// it was stamped. A restore checks its databases while they are staged,
// stamps them, and at the next start checks again only the files whose
// stamp no longer matches: the check is not run twice on the same bytes
// while the app is down.
//
// A stamp holds the file's identity (device, inode, size, modification
// time) and a SHA-256 of its content. A file whose identity is unchanged
// was not written since (any write moves the modification time, and a
// renamed file keeps its inode); one whose identity changed but whose
// digest matches holds the same bytes anyway (a copy).
package filestamp

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Stamp is one file's identity and digest.
type Stamp struct {
	Name    string `json:"name"` // base name, in its folder
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtimeNs"` // Unix nanoseconds
	SHA256  string `json:"sha256"`  // hex; empty when not taken
}

// SameIdentity reports whether a and b name the same unchanged file.
func (s Stamp) SameIdentity(o Stamp) bool {
	return s.Dev == o.Dev && s.Ino == o.Ino && s.Size == o.Size && s.ModTime == o.ModTime
}

// Identity returns the stamp of the regular file dir/name without its
// digest.
func Identity(dir, name string) (Stamp, error) {
	info, err := os.Lstat(filepath.Join(dir, name))
	if err != nil {
		return Stamp{}, err
	}
	return fromInfo(name, info)
}

// Take stamps the regular file dir/name, digest included. The file must
// not change while it is read: its identity is compared before and after.
func Take(dir, name string) (Stamp, error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		return Stamp{}, fmt.Errorf("stamp %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Stamp{}, fmt.Errorf("stamp %s: %w", name, err)
	}
	before, err := fromInfo(name, info)
	if err != nil {
		return Stamp{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Stamp{}, fmt.Errorf("stamp %s: %w", name, err)
	}
	after, err := Identity(dir, name)
	if err != nil {
		return Stamp{}, fmt.Errorf("stamp %s: %w", name, err)
	}
	if !after.SameIdentity(before) {
		return Stamp{}, fmt.Errorf("stamp %s: %w", name, ErrChanged)
	}
	before.SHA256 = hex.EncodeToString(h.Sum(nil))
	return before, nil
}

// ErrChanged reports a file that changed while it was stamped.
var ErrChanged = errors.New("file changed while it was read")

// Matches reports whether the regular file dir/s.Name holds the bytes s
// was taken of: its identity is unchanged, or its digest equals s's. A
// missing file does not match.
func Matches(dir string, s Stamp) (bool, error) {
	now, err := Identity(dir, s.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if now.SameIdentity(s) {
		return true, nil
	}
	if now.Size != s.Size || s.SHA256 == "" {
		return false, nil
	}
	again, err := Take(dir, s.Name)
	if err != nil {
		return false, err
	}
	return again.SHA256 == s.SHA256, nil
}

// TopLevel lists the regular files at the top of dir.
func TopLevel(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// fromInfo is the identity of a regular file from its FileInfo.
func fromInfo(name string, info fs.FileInfo) (Stamp, error) {
	if !info.Mode().IsRegular() {
		return Stamp{}, fmt.Errorf("stamp %s: not a regular file", name)
	}
	dev, ino, ok := devIno(info)
	if !ok {
		return Stamp{}, fmt.Errorf("stamp %s: no device and inode on this system", name)
	}
	return Stamp{Name: name, Dev: dev, Ino: ino, Size: info.Size(), ModTime: info.ModTime().UnixNano()}, nil
}

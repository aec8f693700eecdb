package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// A create or a restore checks, before it answers 204, that the
// filesystems it will write to have room for it, so that it is refused at
// once with a 507 naming the shortfall instead of failing half-way.

// spaceNeed is room an operation needs on the filesystem holding path.
type spaceNeed struct {
	// where names the place in the 507 message ("the data directory").
	where string
	path  string
	bytes int64
}

// fsSpace is what a filesystem reports: bytes free to this process and an
// identity shared by every path on the same filesystem.
type fsSpace struct {
	avail int64
	dev   uint64
}

// checkSpace sums needs per filesystem (the backups folder is often on the
// data directory's) and returns the contract's 507 for the first one
// short of room, or nil. A filesystem whose space cannot be read is not
// checked: the operation then fails on its own if it runs out.
func (h *Host) checkSpace(needs []spaceNeed) error {
	type total struct {
		where string
		need  int64
		avail int64
	}
	var order []uint64
	byDev := map[uint64]*total{}
	for _, n := range needs {
		if n.bytes <= 0 {
			continue
		}
		sp, err := h.freeSpace(existingAncestor(n.path))
		if err != nil {
			h.log.Warn("free space unknown; not checked", "error", err)
			continue
		}
		t, ok := byDev[sp.dev]
		if !ok {
			t = &total{where: n.where, avail: sp.avail}
			byDev[sp.dev] = t
			order = append(order, sp.dev)
		}
		t.need += n.bytes
	}
	for _, dev := range order {
		t := byDev[dev]
		if t.need > t.avail {
			return jsonapi.New(http.StatusInsufficientStorage,
				fmt.Sprintf("Not enough free space in %s: needs %s more.", t.where, formatBytes(t.need-t.avail)))
		}
	}
	return nil
}

// existingAncestor is path or its nearest existing parent: a local
// backups folder is made by the first backup.
func existingAncestor(path string) string {
	for {
		if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return path
		}
		parent := filepath.Dir(path)
		if parent == path {
			return path
		}
		path = parent
	}
}

// localStorageDir is the folder a file:// storage URL names, or "".
func localStorageDir(storageURL string) string {
	u, err := url.Parse(storageURL)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return ""
	}
	return filepath.Clean(u.Path)
}

// dataSize is the size of what a backup archives: the data directory
// without the entries never archived and the top-level excludes. It is
// the estimate of a new archive's size (compression only makes it
// smaller).
func (h *Host) dataSize(ctx context.Context) (int64, error) {
	skip := map[string]bool{}
	for _, e := range append(append([]string{}, DefaultExcludes...), h.cfg.Exclude...) {
		skip[filepath.FromSlash(strings.Trim(e, "/"))] = true
	}
	var total int64
	err := filepath.WalkDir(h.cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, relErr := filepath.Rel(h.cfg.DataDir, p)
		if relErr == nil && skip[rel] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("data dir size: %w", err)
	}
	return total, nil
}

// createNeeds is the room a create needs: the archive (estimated by the
// data's size) in a local backups folder. The databases are archived in
// place (a copy only for one that cannot be frozen), so the data
// directory itself needs no room of its own.
func (h *Host) createNeeds(ctx context.Context, storageURL string) ([]spaceNeed, error) {
	dir := localStorageDir(storageURL)
	if dir == "" {
		return nil, nil
	}
	size, err := h.dataSize(ctx)
	if err != nil {
		return nil, err
	}
	return []spaceNeed{{where: "the backups folder", path: dir, bytes: size}}, nil
}

// spaceForCreate is the free-space check of a create that no request
// waits for (a scheduled one): a shortfall is an error of kind
// shared.ErrNoSpace, whose message the log gets.
func (h *Host) spaceForCreate(ctx context.Context, storageURL string) error {
	needs, err := h.createNeeds(ctx, storageURL)
	if err != nil {
		return err
	}
	if err := h.checkSpace(needs); err != nil {
		return fmt.Errorf("%w: %w", shared.ErrNoSpace, err)
	}
	return nil
}

// restoreNeeds is the room a restore of an archive of archiveSize bytes
// (extractedSize once extracted) needs: the extracted data inside the data
// directory and, unless the archive is a local file the plugin reads in
// place, a downloaded copy beside it.
func (h *Host) restoreNeeds(storageURL string, archiveSize, extractedSize int64) []spaceNeed {
	need := extractedSize
	if localStorageDir(storageURL) == "" {
		need += archiveSize
	}
	return []spaceNeed{{where: "the data directory", path: h.cfg.DataDir, bytes: need}}
}

// formatBytes writes n in binary units with one decimal ("1.2 GiB").
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

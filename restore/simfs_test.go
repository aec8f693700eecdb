package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
)

// simFS is a simulated disk for power-cut tests. It keeps two states: the
// live one that the running code sees (the page cache), and what a power
// cut leaves, which holds only what was made durable:
//
//   - a file's contents as of its last Sync (empty if never synced);
//   - a directory entry created or removed in a folder only once that
//     folder was fsynced (SyncDir) after the change;
//   - a rename only once both its source and its destination folders were
//     fsynced after it; until then a cut undoes it wholly (a rename is one
//     journal transaction on the filesystems this runs on, but which
//     folder's fsync commits it is not promised, so both are required).
//
// Every operation that changes or syncs something is numbered; with
// cutAfter set, the one numbered cutAfter+1 panics with errPowerCut
// instead of running, as does every operation after it: the power is off.
type simFS struct {
	nodes    map[int]*simNode
	nextID   int
	base     map[int]map[string]int // durable directory entries at the start
	log      []*simOp               // entry changes since the start
	ops      int                    // operations done (changes and syncs)
	cutAfter int                    // -1: no power cut
	temps    int
}

// simNode is a file or a folder.
type simNode struct {
	id      int
	dir     bool
	entries map[string]int // live, for a folder
	data    []byte         // live, for a file
	synced  []byte         // durable contents, for a file
}

// simOp is a change to directory entries; it is durable once every folder
// in needs was fsynced after it.
type simOp struct {
	kind            string // "create", "remove" or "rename"
	dir, name       string // create, remove; rename's source
	dstDir, dstName string // rename's destination
	dirID, dstDirID int
	child           int
	needs           map[int]bool // folders still to be fsynced
}

var errPowerCut = errors.New("power cut")

const simRoot = 1

// newSimFS returns a disk holding files (path → contents; paths absolute,
// folders implied), all durable.
func newSimFS(files map[string]string) *simFS {
	s := &simFS{nodes: map[int]*simNode{}, cutAfter: -1}
	s.nodes[simRoot] = &simNode{id: simRoot, dir: true, entries: map[string]int{}}
	s.nextID = simRoot + 1
	for _, name := range slices.Sorted(maps.Keys(files)) {
		dir := s.mkdirAllLive(path.Dir(name))
		n := s.newNode(false)
		n.data = []byte(files[name])
		n.synced = n.data
		dir.entries[path.Base(name)] = n.id
	}
	s.base = s.liveEntries()
	return s
}

func (s *simFS) newNode(dir bool) *simNode {
	n := &simNode{id: s.nextID, dir: dir}
	if dir {
		n.entries = map[string]int{}
	}
	s.nodes[n.id] = n
	s.nextID++
	return n
}

func (s *simFS) mkdirAllLive(dir string) *simNode {
	n := s.nodes[simRoot]
	for _, part := range splitPath(dir) {
		id, ok := n.entries[part]
		if !ok {
			c := s.newNode(true)
			n.entries[part] = c.id
			id = c.id
		}
		n = s.nodes[id]
	}
	return n
}

func (s *simFS) liveEntries() map[int]map[string]int {
	out := map[int]map[string]int{}
	for id, n := range s.nodes {
		if n.dir {
			out[id] = maps.Clone(n.entries)
		}
	}
	return out
}

func splitPath(p string) []string {
	p = path.Clean(p)
	if p == "/" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// step counts an operation, or cuts the power.
func (s *simFS) step() {
	if s.cutAfter >= 0 && s.ops >= s.cutAfter {
		panic(errPowerCut)
	}
	s.ops++
}

// run calls f and reports whether the power was cut during it.
func (s *simFS) run(cutAfter int, f func()) (cut bool) {
	s.cutAfter = cutAfter
	defer func() {
		if r := recover(); r != nil {
			if r != errPowerCut {
				panic(r)
			}
			cut = true
		}
		s.cutAfter = -1
	}()
	f()
	return false
}

// powerCut returns the disk as it is after a power cut now: only the
// durable state, itself wholly durable.
func (s *simFS) powerCut() *simFS {
	entries := map[int]map[string]int{}
	for id, m := range s.base {
		entries[id] = maps.Clone(m)
	}
	for _, op := range s.log {
		if len(op.needs) > 0 {
			continue
		}
		if entries[op.dirID] == nil {
			entries[op.dirID] = map[string]int{}
		}
		switch op.kind {
		case "create":
			entries[op.dirID][op.name] = op.child
			if s.nodes[op.child].dir && entries[op.child] == nil {
				entries[op.child] = map[string]int{}
			}
		case "remove":
			delete(entries[op.dirID], op.name)
		case "rename":
			child, ok := entries[op.dirID][op.name]
			if !ok {
				continue // its source never reached the disk: lost
			}
			delete(entries[op.dirID], op.name)
			if entries[op.dstDirID] == nil {
				entries[op.dstDirID] = map[string]int{}
			}
			entries[op.dstDirID][op.dstName] = child
		}
	}
	out := &simFS{nodes: map[int]*simNode{}, nextID: s.nextID, cutAfter: -1}
	var walk func(id, depth int)
	walk = func(id, depth int) {
		if _, seen := out.nodes[id]; seen || depth > 64 {
			return
		}
		old := s.nodes[id]
		n := &simNode{id: id, dir: old.dir}
		out.nodes[id] = n
		if !old.dir {
			n.data = slices.Clone(old.synced)
			n.synced = n.data
			return
		}
		n.entries = maps.Clone(entries[id])
		if n.entries == nil {
			n.entries = map[string]int{}
		}
		for _, c := range n.entries {
			walk(c, depth+1)
		}
	}
	walk(simRoot, 0)
	out.base = out.liveEntries()
	return out
}

// clone copies the disk (after a power cut: everything durable).
func (s *simFS) clone() *simFS {
	if len(s.log) > 0 {
		panic("clone of a disk with changes pending")
	}
	return s.powerCut()
}

// lookup resolves p to its node, or fs.ErrNotExist.
func (s *simFS) lookup(p string) (*simNode, error) {
	n := s.nodes[simRoot]
	for _, part := range splitPath(p) {
		if !n.dir {
			return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		id, ok := n.entries[part]
		if !ok {
			return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		n = s.nodes[id]
	}
	return n, nil
}

func (s *simFS) parent(p string) (*simNode, string, error) {
	dir, err := s.lookup(path.Dir(p))
	if err != nil {
		return nil, "", err
	}
	if !dir.dir {
		return nil, "", fmt.Errorf("%s: not a directory", p)
	}
	return dir, path.Base(p), nil
}

func (s *simFS) record(op *simOp) { s.log = append(s.log, op) }

func (s *simFS) Lstat(p string) error {
	_, err := s.lookup(p)
	return err
}

func (s *simFS) ReadDir(dir string) ([]string, error) {
	n, err := s.lookup(dir)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	return slices.Sorted(maps.Keys(n.entries)), nil
}

func (s *simFS) ReadFile(p string) ([]byte, error) {
	n, err := s.lookup(p)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, fmt.Errorf("%s: is a directory", p)
	}
	return slices.Clone(n.data), nil
}

func (s *simFS) Mkdir(p string, _ fs.FileMode) error {
	s.step()
	dir, name, err := s.parent(p)
	if err != nil {
		return err
	}
	if _, ok := dir.entries[name]; ok {
		return fmt.Errorf("%s: %w", p, fs.ErrExist)
	}
	n := s.newNode(true)
	dir.entries[name] = n.id
	s.record(&simOp{kind: "create", dir: path.Dir(p), name: name, dirID: dir.id, child: n.id, needs: map[int]bool{dir.id: true}})
	return nil
}

func (s *simFS) CreateTemp(dir, pattern string) (tempFile, error) {
	s.step()
	d, err := s.lookup(dir)
	if err != nil {
		return nil, err
	}
	s.temps++
	name := strings.Replace(pattern, "*", fmt.Sprint(s.temps), 1)
	if _, ok := d.entries[name]; ok {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrExist)
	}
	n := s.newNode(false)
	d.entries[name] = n.id
	s.record(&simOp{kind: "create", dir: dir, name: name, dirID: d.id, child: n.id, needs: map[int]bool{d.id: true}})
	return &simFile{fs: s, node: n, name: path.Join(dir, name)}, nil
}

func (s *simFS) Rename(oldpath, newpath string) error {
	s.step()
	src, srcName, err := s.parent(oldpath)
	if err != nil {
		return err
	}
	dst, dstName, err := s.parent(newpath)
	if err != nil {
		return err
	}
	child, ok := src.entries[srcName]
	if !ok {
		return fmt.Errorf("%s: %w", oldpath, fs.ErrNotExist)
	}
	if prev, ok := dst.entries[dstName]; ok && s.nodes[prev].dir && len(s.nodes[prev].entries) > 0 {
		return fmt.Errorf("%s: directory not empty", newpath)
	}
	delete(src.entries, srcName)
	dst.entries[dstName] = child
	s.record(&simOp{kind: "rename", dir: path.Dir(oldpath), name: srcName, dstDir: path.Dir(newpath), dstName: dstName,
		dirID: src.id, dstDirID: dst.id, child: child, needs: map[int]bool{src.id: true, dst.id: true}})
	return nil
}

func (s *simFS) Remove(p string) error {
	s.step()
	dir, name, err := s.parent(p)
	if err != nil {
		return err
	}
	id, ok := dir.entries[name]
	if !ok {
		return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	if n := s.nodes[id]; n.dir && len(n.entries) > 0 {
		return fmt.Errorf("%s: directory not empty", p)
	}
	delete(dir.entries, name)
	s.record(&simOp{kind: "remove", dir: path.Dir(p), name: name, dirID: dir.id, child: id, needs: map[int]bool{dir.id: true}})
	return nil
}

// unlinkTree removes the entry p, a folder with its contents, at once
// (what is inside becomes unreachable, as after an rm -rf).
func (s *simFS) unlinkTree(p string) error {
	s.step()
	dir, name, err := s.parent(p)
	if err != nil {
		return err
	}
	id, ok := dir.entries[name]
	if !ok {
		return fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	delete(dir.entries, name)
	s.record(&simOp{kind: "remove", dir: path.Dir(p), name: name, dirID: dir.id, child: id, needs: map[int]bool{dir.id: true}})
	return nil
}

func (s *simFS) SyncDir(dir string) error {
	s.step()
	n, err := s.lookup(dir)
	if err != nil {
		return err
	}
	for _, op := range s.log {
		delete(op.needs, n.id)
	}
	return nil
}

// simFile is a file open for writing on a simFS.
type simFile struct {
	fs     *simFS
	node   *simNode
	name   string
	closed bool
}

func (f *simFile) Name() string { return f.name }

func (f *simFile) Chmod(fs.FileMode) error {
	f.fs.step()
	return nil
}

func (f *simFile) Write(p []byte) (int, error) {
	f.fs.step()
	if f.closed {
		return 0, fs.ErrClosed
	}
	f.node.data = append(f.node.data, p...)
	return len(p), nil
}

func (f *simFile) Sync() error {
	f.fs.step()
	if f.closed {
		return fs.ErrClosed
	}
	f.node.synced = slices.Clone(f.node.data)
	return nil
}

func (f *simFile) Close() error {
	f.fs.step()
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return nil
}

// tree returns the files under dir (relative paths, '/') and their live
// contents, leaving out the top-level names in skip.
func (s *simFS) tree(dir string, skip []string) map[string]string {
	out := map[string]string{}
	n, err := s.lookup(dir)
	if err != nil {
		return out
	}
	var walk func(n *simNode, rel string)
	walk = func(n *simNode, rel string) {
		for name, id := range n.entries {
			if rel == "" && slices.Contains(skip, name) {
				continue
			}
			c := s.nodes[id]
			if c.dir {
				walk(c, rel+name+"/")
			} else {
				out[rel+name] = string(c.data)
			}
		}
	}
	walk(n, "")
	return out
}

var _ fileSystem = (*simFS)(nil)

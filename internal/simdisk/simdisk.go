// Package simdisk is a simulated disk for power-cut tests; it exists for
// tests only and no product code uses it.
//
// A Disk keeps two states: the live one that the running code sees (the
// page cache), and what a power cut leaves, which holds only what was made
// durable:
//
//   - a file's contents as of its last Sync (empty if never synced);
//   - a directory entry created, linked or removed in a folder only once
//     that folder was fsynced (SyncDir) after the change;
//   - a rename only once both its source and its destination folders were
//     fsynced after it; until then a cut undoes it wholly (a rename is one
//     journal transaction on the filesystems this models, but which
//     folder's fsync commits it is not promised, so both are required).
//
// Every operation that changes or syncs something is numbered; run under
// Run with a cut point k, the operation numbered k+1 panics with
// ErrPowerCut instead of running, as does every operation after it: the
// power is off. PowerCut then gives the disk as the next boot finds it.
//
// Paths are absolute and use '/'. There are no symlinks, permissions or
// owners; advisory locks (flock) are kept per open file and vanish with
// the power.
package simdisk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrPowerCut is the value an operation panics with once the power is cut.
var ErrPowerCut = errors.New("power cut")

// ModTime is every file's modification time: the disk has no clock.
var ModTime = time.Unix(0, 0)

// Disk is a simulated disk. It is not safe for concurrent use.
type Disk struct {
	nodes    map[int]*node
	nextID   int
	base     map[int]map[string]int // durable directory entries at the start
	log      []*op                  // entry changes since the start
	ops      int                    // operations done (changes and syncs)
	cutAfter int                    // -1: no power cut
	temps    int
}

// node is a file or a folder.
type node struct {
	id      int
	dir     bool
	entries map[string]int // live, for a folder
	data    []byte         // live, for a file
	synced  []byte         // durable contents, for a file
	lock    *File          // the open file holding its flock, if any
}

// op is a change to directory entries; it is durable once every folder
// in needs was fsynced after it.
type op struct {
	kind            string // "create", "remove" or "rename"
	dirID, dstDirID int
	name, dstName   string
	child           int
	needs           map[int]bool // folders still to be fsynced
}

const rootID = 1

// New returns a disk holding files (path → contents; paths absolute,
// folders implied), all durable.
func New(files map[string]string) *Disk {
	d := &Disk{nodes: map[int]*node{}, cutAfter: -1}
	d.nodes[rootID] = &node{id: rootID, dir: true, entries: map[string]int{}}
	d.nextID = rootID + 1
	for _, name := range slices.Sorted(maps.Keys(files)) {
		dir := d.mkdirAllLive(path.Dir(name))
		n := d.newNode(false)
		n.data = []byte(files[name])
		n.synced = n.data
		dir.entries[path.Base(name)] = n.id
	}
	d.base = d.liveEntries()
	return d
}

// NewDirs is New that also creates the empty folders dirs, durably.
func NewDirs(files map[string]string, dirs ...string) *Disk {
	d := New(files)
	for _, dir := range dirs {
		d.mkdirAllLive(dir)
	}
	d.base = d.liveEntries()
	return d
}

func (d *Disk) newNode(dir bool) *node {
	n := &node{id: d.nextID, dir: dir}
	if dir {
		n.entries = map[string]int{}
	}
	d.nodes[n.id] = n
	d.nextID++
	return n
}

func (d *Disk) mkdirAllLive(dir string) *node {
	n := d.nodes[rootID]
	for _, part := range splitPath(dir) {
		id, ok := n.entries[part]
		if !ok {
			c := d.newNode(true)
			n.entries[part] = c.id
			id = c.id
		}
		n = d.nodes[id]
	}
	return n
}

func (d *Disk) liveEntries() map[int]map[string]int {
	out := map[int]map[string]int{}
	for id, n := range d.nodes {
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
func (d *Disk) step() {
	if d.cutAfter >= 0 && d.ops >= d.cutAfter {
		panic(ErrPowerCut)
	}
	d.ops++
}

// Run calls f with the power cut after cutAfter more operations (never
// when cutAfter is negative), and reports whether it was cut during f.
func (d *Disk) Run(cutAfter int, f func()) (cut bool) {
	if cutAfter >= 0 {
		cutAfter += d.ops
	}
	d.cutAfter = cutAfter
	defer func() {
		if r := recover(); r != nil {
			if r != ErrPowerCut {
				panic(r)
			}
			cut = true
		}
		d.cutAfter = -1
	}()
	f()
	return false
}

// PowerCut returns the disk as it is after a power cut now: only the
// durable state, itself wholly durable, with no file open or locked.
func (d *Disk) PowerCut() *Disk { return d.PowerCutKeeping(0) }

// Pending is the number of directory entry changes not yet durable.
func (d *Disk) Pending() int {
	n := 0
	for _, o := range d.log {
		if len(o.needs) > 0 {
			n++
		}
	}
	return n
}

// PowerCutKeeping is PowerCut where the first n of the Pending changes
// reached the disk anyway, as a journaling filesystem commits its
// metadata in order, without being asked: a cut may keep any prefix of
// what was not made durable. File contents still last only as of their
// last Sync.
func (d *Disk) PowerCutKeeping(n int) *Disk {
	entries := map[int]map[string]int{}
	for id, m := range d.base {
		entries[id] = maps.Clone(m)
	}
	for _, o := range d.log {
		if len(o.needs) > 0 {
			if n <= 0 {
				continue
			}
			n--
		}
		if entries[o.dirID] == nil {
			entries[o.dirID] = map[string]int{}
		}
		switch o.kind {
		case "create":
			entries[o.dirID][o.name] = o.child
			if d.nodes[o.child].dir && entries[o.child] == nil {
				entries[o.child] = map[string]int{}
			}
		case "remove":
			delete(entries[o.dirID], o.name)
		case "rename":
			child, ok := entries[o.dirID][o.name]
			if !ok {
				continue // its source never reached the disk: lost
			}
			delete(entries[o.dirID], o.name)
			if entries[o.dstDirID] == nil {
				entries[o.dstDirID] = map[string]int{}
			}
			entries[o.dstDirID][o.dstName] = child
		}
	}
	out := &Disk{nodes: map[int]*node{}, nextID: d.nextID, cutAfter: -1}
	var walk func(id, depth int)
	walk = func(id, depth int) {
		if _, seen := out.nodes[id]; seen || depth > 64 {
			return
		}
		old := d.nodes[id]
		n := &node{id: id, dir: old.dir}
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
	walk(rootID, 0)
	out.base = out.liveEntries()
	return out
}

// Clone copies a disk that has no change pending (one PowerCut returned).
func (d *Disk) Clone() *Disk {
	if len(d.log) > 0 {
		panic("simdisk: clone of a disk with changes pending")
	}
	return d.PowerCut()
}

// Kill is the death of the process using the disk, without a power cut:
// the kernel drops its locks, and everything it did, durable or not,
// stays (the page cache outlives the process). Its open files must not
// be used again.
func (d *Disk) Kill() {
	for _, n := range d.nodes {
		n.lock = nil
	}
}

// Ops is the number of operations done so far.
func (d *Disk) Ops() int { return d.ops }

func pathErr(op, p string, err error) error { return &fs.PathError{Op: op, Path: p, Err: err} }

// lookup resolves p to its node, or fs.ErrNotExist.
func (d *Disk) lookup(p string) (*node, error) {
	n := d.nodes[rootID]
	for _, part := range splitPath(p) {
		if !n.dir {
			return nil, pathErr("lookup", p, syscall.ENOTDIR)
		}
		id, ok := n.entries[part]
		if !ok {
			return nil, pathErr("lookup", p, fs.ErrNotExist)
		}
		n = d.nodes[id]
	}
	return n, nil
}

func (d *Disk) parent(p string) (*node, string, error) {
	dir, err := d.lookup(path.Dir(p))
	if err != nil {
		return nil, "", err
	}
	if !dir.dir {
		return nil, "", pathErr("lookup", p, syscall.ENOTDIR)
	}
	return dir, path.Base(p), nil
}

func (d *Disk) record(o *op) { d.log = append(d.log, o) }

// fileInfo describes a node.
type fileInfo struct {
	name string
	n    *node
}

func (fi fileInfo) Name() string { return fi.name }
func (fi fileInfo) Size() int64 {
	if fi.n.dir {
		return 0
	}
	return int64(len(fi.n.data))
}

func (fi fileInfo) Mode() fs.FileMode {
	if fi.n.dir {
		return fs.ModeDir | 0o700
	}
	return 0o600
}
func (fi fileInfo) ModTime() time.Time { return ModTime }
func (fi fileInfo) IsDir() bool        { return fi.n.dir }
func (fi fileInfo) Sys() any           { return nil }

// Lstat describes p (the disk has no symlinks to follow or not).
func (d *Disk) Lstat(p string) (fs.FileInfo, error) {
	n, err := d.lookup(p)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(p), n: n}, nil
}

// ReadDir returns the entries of dir, sorted by name.
func (d *Disk) ReadDir(dir string) ([]fs.DirEntry, error) {
	n, err := d.lookup(dir)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, pathErr("readdir", dir, syscall.ENOTDIR)
	}
	var out []fs.DirEntry
	for _, name := range slices.Sorted(maps.Keys(n.entries)) {
		out = append(out, fs.FileInfoToDirEntry(fileInfo{name: name, n: d.nodes[n.entries[name]]}))
	}
	return out, nil
}

// ReadFile returns p's live contents.
func (d *Disk) ReadFile(p string) ([]byte, error) {
	n, err := d.lookup(p)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, pathErr("read", p, syscall.EISDIR)
	}
	return slices.Clone(n.data), nil
}

// Mkdir creates the folder p.
func (d *Disk) Mkdir(p string, _ fs.FileMode) error {
	d.step()
	dir, name, err := d.parent(p)
	if err != nil {
		return err
	}
	if _, ok := dir.entries[name]; ok {
		return pathErr("mkdir", p, fs.ErrExist)
	}
	n := d.newNode(true)
	dir.entries[name] = n.id
	d.record(&op{kind: "create", dirID: dir.id, name: name, child: n.id, needs: map[int]bool{dir.id: true}})
	return nil
}

// CreateTemp creates a new file in dir, named as os.CreateTemp does, with
// a counter for the '*' in pattern.
func (d *Disk) CreateTemp(dir, pattern string) (*File, error) {
	d.temps++
	name := strings.Replace(pattern, "*", fmt.Sprint(d.temps), 1)
	return d.OpenFile(path.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// OpenFile opens p as os.OpenFile does, honouring O_CREATE, O_EXCL,
// O_TRUNC and the access mode (O_APPEND is not supported).
func (d *Disk) OpenFile(p string, flag int, _ fs.FileMode) (*File, error) {
	if flag&os.O_APPEND != 0 {
		return nil, pathErr("open", p, syscall.EINVAL)
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_CREATE != 0 || flag&os.O_TRUNC != 0 {
		d.step()
	}
	dir, name, err := d.parent(p)
	if err != nil {
		return nil, err
	}
	id, ok := dir.entries[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", p, fs.ErrExist)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", p, fs.ErrNotExist)
	case !ok:
		n := d.newNode(false)
		dir.entries[name] = n.id
		d.record(&op{kind: "create", dirID: dir.id, name: name, child: n.id, needs: map[int]bool{dir.id: true}})
		id = n.id
	}
	n := d.nodes[id]
	if n.dir && writable {
		return nil, pathErr("open", p, syscall.EISDIR)
	}
	if flag&os.O_TRUNC != 0 && writable {
		n.data = nil
	}
	return &File{d: d, n: n, name: p, writable: writable}, nil
}

// Rename moves oldpath to newpath, replacing a file or empty folder there.
func (d *Disk) Rename(oldpath, newpath string) error {
	return d.rename(oldpath, newpath, false)
}

// RenameNoReplace is renameat2 with RENAME_NOREPLACE: it fails with
// fs.ErrExist, changing nothing, when newpath exists.
func (d *Disk) RenameNoReplace(oldpath, newpath string) error {
	return d.rename(oldpath, newpath, true)
}

func (d *Disk) rename(oldpath, newpath string, noReplace bool) error {
	d.step()
	src, srcName, err := d.parent(oldpath)
	if err != nil {
		return err
	}
	dst, dstName, err := d.parent(newpath)
	if err != nil {
		return err
	}
	child, ok := src.entries[srcName]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if prev, ok := dst.entries[dstName]; ok {
		if noReplace {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
		}
		if d.nodes[prev].dir && len(d.nodes[prev].entries) > 0 {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.ENOTEMPTY}
		}
	}
	delete(src.entries, srcName)
	dst.entries[dstName] = child
	d.record(&op{kind: "rename", dirID: src.id, name: srcName, dstDirID: dst.id, dstName: dstName,
		child: child, needs: map[int]bool{src.id: true, dst.id: true}})
	return nil
}

// Link gives the file oldpath the further name newpath, which must not
// exist (fs.ErrExist).
func (d *Disk) Link(oldpath, newpath string) error {
	d.step()
	child, err := d.lookup(oldpath)
	if err != nil {
		return err
	}
	if child.dir {
		return &os.LinkError{Op: "link", Old: oldpath, New: newpath, Err: syscall.EPERM}
	}
	dst, name, err := d.parent(newpath)
	if err != nil {
		return err
	}
	if _, ok := dst.entries[name]; ok {
		return &os.LinkError{Op: "link", Old: oldpath, New: newpath, Err: fs.ErrExist}
	}
	dst.entries[name] = child.id
	d.record(&op{kind: "create", dirID: dst.id, name: name, child: child.id, needs: map[int]bool{dst.id: true}})
	return nil
}

// Remove removes the file or empty folder p.
func (d *Disk) Remove(p string) error {
	d.step()
	dir, name, err := d.parent(p)
	if err != nil {
		return err
	}
	id, ok := dir.entries[name]
	if !ok {
		return pathErr("remove", p, fs.ErrNotExist)
	}
	if n := d.nodes[id]; n.dir && len(n.entries) > 0 {
		return pathErr("remove", p, syscall.ENOTEMPTY)
	}
	delete(dir.entries, name)
	d.record(&op{kind: "remove", dirID: dir.id, name: name, child: id, needs: map[int]bool{dir.id: true}})
	return nil
}

// UnlinkTree removes the entry p, a folder with its contents, at once
// (what is inside becomes unreachable, as after an rm -rf).
func (d *Disk) UnlinkTree(p string) error {
	d.step()
	dir, name, err := d.parent(p)
	if err != nil {
		return err
	}
	id, ok := dir.entries[name]
	if !ok {
		return pathErr("remove", p, fs.ErrNotExist)
	}
	delete(dir.entries, name)
	d.record(&op{kind: "remove", dirID: dir.id, name: name, child: id, needs: map[int]bool{dir.id: true}})
	return nil
}

// SyncDir fsyncs the folder dir: the entry changes made in it so far
// become durable (a rename once both of its folders are synced).
func (d *Disk) SyncDir(dir string) error {
	d.step()
	n, err := d.lookup(dir)
	if err != nil {
		return err
	}
	if !n.dir {
		return pathErr("fsync", dir, syscall.ENOTDIR)
	}
	for _, o := range d.log {
		delete(o.needs, n.id)
	}
	return nil
}

// Tree returns the files under dir (relative paths, '/') and their live
// contents, leaving out the top-level names in skip.
func (d *Disk) Tree(dir string, skip []string) map[string]string {
	out := map[string]string{}
	n, err := d.lookup(dir)
	if err != nil {
		return out
	}
	var walk func(n *node, rel string)
	walk = func(n *node, rel string) {
		for name, id := range n.entries {
			if rel == "" && slices.Contains(skip, name) {
				continue
			}
			c := d.nodes[id]
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

// File is a file open on a Disk.
type File struct {
	d        *Disk
	n        *node
	name     string
	writable bool
	closed   bool
}

// Name is the path the file was opened with.
func (f *File) Name() string { return f.name }

// Chmod counts as an operation and changes nothing (no permissions here).
func (f *File) Chmod(fs.FileMode) error {
	f.d.step()
	return nil
}

// Write appends p to the live contents.
func (f *File) Write(p []byte) (int, error) {
	f.d.step()
	if f.closed {
		return 0, fs.ErrClosed
	}
	if !f.writable {
		return 0, pathErr("write", f.name, syscall.EBADF)
	}
	f.n.data = append(f.n.data, p...)
	return len(p), nil
}

// ReadAt reads the live contents.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, fs.ErrClosed
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Sync makes the live contents durable (not the file's name: see SyncDir).
func (f *File) Sync() error {
	f.d.step()
	if f.closed {
		return fs.ErrClosed
	}
	f.n.synced = slices.Clone(f.n.data)
	return nil
}

// Lock takes the file's flock without waiting, failing with EWOULDBLOCK
// while another open file holds it.
func (f *File) Lock() error {
	if f.closed {
		return fs.ErrClosed
	}
	if f.n.lock != nil && f.n.lock != f {
		return pathErr("flock", f.name, syscall.EWOULDBLOCK)
	}
	f.n.lock = f
	return nil
}

// Close closes the file and drops its lock.
func (f *File) Close() error {
	f.d.step()
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	if f.n.lock == f {
		f.n.lock = nil
	}
	return nil
}

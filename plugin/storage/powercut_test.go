package storage

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"syscall"
	"testing"

	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/internal/simdisk"
	"github.com/pocketbackup/pocketbackup/shared"
)

// The power-cut tests run the local store's commit, delete and cleanup on
// a simulated disk (internal/simdisk) and cut the power after every
// operation of theirs (each create, write, fsync, rename, link, removal):
// what was not made durable is lost. Killing a process never loses
// anything, so only these tests notice a missing fsync.
//
// After every cut, the keys must be as before the operation in flight or
// as after it, whole: a key absent or holding its complete bytes, a
// Commit or Delete that returned nil kept, an existing object untouched
// by a commit onto its name. Then the store must work on the disk as the
// next boot finds it: List shows exactly those keys, reads give their
// bytes, the leftovers are cleaned up and a new commit lasts.

const simStore = "/srv/pb/backups"

// simAction is one store operation of a scenario.
type simAction struct {
	op      string // "commit", "race" (two writers, data commits first), "delete" or "list"
	key     string
	data    string // commit: written in chunks of at most chunk bytes
	chunk   int    // 0: three chunks
	wantErr error  // what the operation must fail with, or nil
}

type powerCutCase struct {
	name     string
	files    map[string]string // durable at the start; names in simStore unless absolute
	dirs     []string          // folders that exist at the start besides those of files (none: simStore)
	link     bool              // no RENAME_NOREPLACE: link and unlink
	actions  []simAction
	minCuts  int
	writeBig bool // the scenario must pass the write-back hint
}

func powerCutCases() []powerCutCase {
	big := strings.Repeat("b", durable.WritebackEvery+1)
	return []powerCutCase{
		{name: "commit", files: map[string]string{"keep.zip": "kept"},
			actions: []simAction{{op: "commit", key: "new.zip", data: "the new backup"}}, minCuts: 8},
		{name: "commit-link-fallback", files: map[string]string{"keep.zip": "kept"}, link: true,
			actions: []simAction{{op: "commit", key: "new.zip", data: "the new backup"}}, minCuts: 9},
		{name: "commit-creates-dir", dirs: []string{"/srv"},
			actions: []simAction{{op: "commit", key: "new.zip", data: "the new backup"}}, minCuts: 10},
		{name: "commit-big-writeback", files: map[string]string{"keep.zip": "kept"}, writeBig: true,
			actions: []simAction{{op: "commit", key: "big.zip", data: big, chunk: durable.WritebackEvery}}, minCuts: 7},
		{name: "commit-onto-existing", files: map[string]string{"taken.zip": "the old backup"},
			actions: []simAction{{op: "commit", key: "taken.zip", data: "a racing new one", wantErr: shared.ErrExists}}, minCuts: 7},
		{name: "commit-onto-existing-link-fallback", files: map[string]string{"taken.zip": "the old backup"}, link: true,
			actions: []simAction{{op: "commit", key: "taken.zip", data: "a racing new one", wantErr: shared.ErrExists}}, minCuts: 7},
		{name: "delete", files: map[string]string{"keep.zip": "kept", "gone.zip": "to delete"},
			actions: []simAction{{op: "delete", key: "gone.zip"}}, minCuts: 2},
		{name: "cleanup", files: map[string]string{"keep.zip": "kept", ".tmp-0123": "half a backu", ".new-4567": "",
			".tmp-fffe": "", "other.zip": "other"},
			actions: []simAction{{op: "list"}}, minCuts: 6},
		{name: "sequence", files: map[string]string{"keep.zip": "kept", "old.zip": "old"},
			actions: []simAction{
				{op: "commit", key: "a.zip", data: "first"},
				{op: "delete", key: "old.zip"},
				{op: "commit", key: "old.zip", data: "recreated"},
				{op: "commit", key: "keep.zip", data: "must not land", wantErr: shared.ErrExists},
				{op: "delete", key: "keep.zip"},
				{op: "race", key: "race.zip", data: "the winner"},
			}, minCuts: 40},
		{name: "race-link-fallback", link: true,
			actions: []simAction{{op: "race", key: "race.zip", data: "the winner"}}, minCuts: 15},
	}
}

func (c powerCutCase) disk() *simdisk.Disk {
	files := map[string]string{}
	for name, data := range c.files {
		if !strings.HasPrefix(name, "/") {
			name = simStore + "/" + name
		}
		files[name] = data
	}
	dirs := c.dirs
	if len(c.dirs) == 0 {
		dirs = []string{simStore}
	}
	return simdisk.NewDirs(files, dirs...)
}

// startKeys is the keys (visible names) of the store at the start.
func (c powerCutCase) startKeys() map[string]string {
	keys := map[string]string{}
	for name, data := range c.files {
		if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, ".") {
			keys[name] = data
		}
	}
	return keys
}

// apply returns keys as a successful action leaves them.
func (a simAction) apply(keys map[string]string) map[string]string {
	out := maps.Clone(keys)
	if a.wantErr != nil {
		return out
	}
	switch a.op {
	case "commit", "race":
		out[a.key] = a.data
	case "delete":
		delete(out, a.key)
	}
	return out
}

// run does the action on s, failing t if it does not end as wanted.
func (a simAction) run(t *testing.T, s *localStore) {
	t.Helper()
	ctx := t.Context()
	var err error
	switch a.op {
	case "commit":
		err = commitChunks(ctx, s, a.key, a.data, a.chunk)
	case "race":
		err = commitRace(t, s, a.key, a.data)
	case "delete":
		err = s.Delete(ctx, a.key)
	case "list":
		_, err = s.List(ctx)
	}
	if (a.wantErr == nil && err != nil) || (a.wantErr != nil && !errors.Is(err, a.wantErr)) {
		t.Fatalf("%s %q: %v, want %v", a.op, a.key, err, a.wantErr)
	}
}

func commitChunks(ctx context.Context, s *localStore, key, data string, chunk int) error {
	if chunk == 0 {
		chunk = max(1, (len(data)+2)/3)
	}
	w, err := s.NewWriter(ctx, key)
	if err != nil {
		return err
	}
	defer w.Abort()
	for rest := data; rest != ""; {
		n := min(chunk, len(rest))
		if _, err := io.WriteString(w, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return w.Commit()
}

// commitRace has two writers write key at once; the one with data
// commits first, the other must then fail with shared.ErrExists.
func commitRace(t *testing.T, s *localStore, key, data string) error {
	t.Helper()
	ctx := t.Context()
	w1, err := s.NewWriter(ctx, key)
	if err != nil {
		return err
	}
	defer w1.Abort()
	w2, err := s.NewWriter(ctx, key)
	if err != nil {
		return err
	}
	defer w2.Abort()
	for _, part := range []string{data[:len(data)/2], data[len(data)/2:]} {
		if _, err := io.WriteString(w2, "the loser "+part); err != nil {
			return err
		}
		if _, err := io.WriteString(w1, part); err != nil {
			return err
		}
	}
	if err := w1.Commit(); err != nil {
		return err
	}
	if err := w2.Commit(); !errors.Is(err, shared.ErrExists) {
		t.Fatalf("the second commit of %q: %v, want ErrExists", key, err)
	}
	return nil
}

// TestPowerCutLocalStore cuts the power after every operation of each
// scenario and checks the keys the next boot finds; then, on each of
// those disks, that the store recovers.
func TestPowerCutLocalStore(t *testing.T) {
	for _, c := range powerCutCases() {
		t.Run(c.name, func(t *testing.T) {
			type cutDisk struct {
				k             int
				live          *simdisk.Disk // as the power went
				before, after map[string]string
			}
			var disks []cutDisk
			writebacks := 0
			for k := 0; ; k++ {
				disk := c.disk()
				s := &localStore{dir: simStore, fsys: simFS{d: disk, noRenameat2: c.link, writebacks: &writebacks}}
				keys := c.startKeys()
				var inFlight *simAction
				cut := disk.Run(k, func() {
					for i := range c.actions {
						inFlight = &c.actions[i]
						inFlight.run(t, s)
						keys = inFlight.apply(keys)
						inFlight = nil
					}
				})
				after := keys
				if inFlight != nil {
					after = inFlight.apply(keys)
				}
				disks = append(disks, cutDisk{k, disk, keys, after})
				if !cut {
					break
				}
			}
			boots := 0
			for _, d := range disks {
				for n := range d.live.Pending() + 1 {
					got := diskKeys(d.live.PowerCutKeeping(n))
					switch {
					case maps.Equal(got, d.before) || maps.Equal(got, d.after):
					case maps.Equal(d.before, d.after):
						t.Fatalf("cut after %d keeping %d: keys on the disk %q, want %q", d.k, n, got, d.before)
					default:
						t.Fatalf("cut after %d keeping %d: keys on the disk %q, want %q or %q", d.k, n, got, d.before, d.after)
					}
				}
			}
			for _, d := range disks {
				for n := range d.live.Pending() + 1 {
					checkRecovery(t, d.k, n, d.live.PowerCutKeeping(n), c.link)
					boots++
				}
			}
			if len(disks)-1 < c.minCuts {
				t.Fatalf("only %d cut points, want at least %d", len(disks)-1, c.minCuts)
			}
			if c.writeBig && writebacks == 0 {
				t.Fatal("the write-back hint was never given")
			}
			t.Logf("%d cut points, %d disks after a cut", len(disks), boots)
		})
	}
}

// checkRecovery checks that the store works on the disk a cut after k
// operations left (keeping n changes not made durable): List shows the keys there, reads give their bytes,
// leftovers go, and a new commit lasts through another cut.
func checkRecovery(t *testing.T, k, n int, disk *simdisk.Disk, link bool) {
	t.Helper()
	got := diskKeys(disk)
	ctx := t.Context()
	s := &localStore{dir: simStore, fsys: simFS{d: disk, noRenameat2: link}}
	objs, err := s.List(ctx)
	if err != nil {
		t.Fatalf("cut after %d keeping %d: list: %v", k, n, err)
	}
	if len(objs) != len(got) {
		t.Fatalf("cut after %d keeping %d: list %v, want keys %q", k, n, objs, got)
	}
	for _, o := range objs {
		if data, ok := got[o.Key]; !ok || o.Size != int64(len(data)) {
			t.Fatalf("cut after %d keeping %d: list %v, want keys %q", k, n, objs, got)
		}
		r, err := s.NewRangeReader(ctx, o.Key, 0, -1)
		if err != nil {
			t.Fatalf("cut after %d keeping %d: read %s: %v", k, n, o.Key, err)
		}
		data, err := io.ReadAll(r)
		if err := errors.Join(err, r.Close()); err != nil || string(data) != got[o.Key] {
			t.Fatalf("cut after %d keeping %d: read %s = %q, %v", k, n, o.Key, data, err)
		}
	}
	if entries, _ := disk.ReadDir(simStore); len(entries) != len(got) {
		t.Fatalf("cut after %d keeping %d: leftovers after List: %v", k, n, entries)
	}
	// The recovered store takes a new backup, which lasts through a cut.
	if err := commitChunks(ctx, s, "later.zip", "later", 0); err != nil {
		t.Fatalf("cut after %d keeping %d: commit after recovery: %v", k, n, err)
	}
	want := maps.Clone(got)
	want["later.zip"] = "later"
	if again := diskKeys(disk.PowerCut()); !maps.Equal(again, want) {
		t.Fatalf("cut after %d keeping %d: after a commit on the recovered store and a cut: %q, want %q", k, n, again, want)
	}
}

// diskKeys is the visible names in the store's folder and their contents.
func diskKeys(disk *simdisk.Disk) map[string]string {
	keys := map[string]string{}
	entries, _ := disk.ReadDir(simStore)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, _ := disk.ReadFile(simStore + "/" + e.Name())
		keys[e.Name()] = string(data)
	}
	return keys
}

// TestOSRootSyncCallsFsync proves that the real directory Sync reaches
// fsync(2): procfs refuses it with EINVAL, so the error can only come
// from the call.
func TestOSRootSyncCallsFsync(t *testing.T) {
	for dir, want := range map[string]error{"/proc/self": syscall.EINVAL, t.TempDir(): nil} {
		root, err := osFS{}.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := root.Sync(); !errors.Is(err, want) {
			t.Errorf("Sync of %s = %v, want %v", dir, err, want)
		}
		root.Close()
	}
}

// TestPowerCutAfterKilledMkdir kills a first writer at each step of a
// commit that creates the store's folders, then lets a second writer
// commit on what the first left (the page cache outlives a killed
// process): the second commit returned nil, so it must survive a power
// cut, whatever the first one made durable or not.
func TestPowerCutAfterKilledMkdir(t *testing.T) {
	kills := 0
	for k := 0; ; k++ {
		disk := simdisk.NewDirs(nil, "/srv")
		var firstErr error
		killed := disk.Run(k, func() {
			first, err := newLocalStore(simFS{d: disk}, simStore)
			if err == nil {
				err = commitChunks(t.Context(), first, "first.zip", "first", 0)
			}
			firstErr = err
		})
		if !killed && firstErr != nil {
			t.Fatalf("first commit: %v", firstErr)
		}
		disk.Kill()
		second, err := newLocalStore(simFS{d: disk}, simStore)
		if err != nil {
			t.Fatalf("killed after %d: open: %v", k, err)
		}
		if err := commitChunks(t.Context(), second, "second.zip", "second", 0); err != nil {
			t.Fatalf("killed after %d: second commit: %v", k, err)
		}
		for n := range disk.Pending() + 1 {
			got := diskKeys(disk.PowerCutKeeping(n))
			want := map[string]string{"first.zip": "first", "second.zip": "second"}
			if killed && got["first.zip"] == "" {
				delete(want, "first.zip")
			}
			if !maps.Equal(got, want) {
				t.Fatalf("killed after %d, cut keeping %d: keys on the disk %q, want %q", k, n, got, want)
			}
		}
		if !killed {
			break
		}
		kills++
	}
	if kills < 8 {
		t.Fatalf("only %d kill points", kills)
	}
}

package restore

import (
	"errors"
	"maps"
	"path"
	"slices"
	"syscall"
	"testing"

	"github.com/pocketbackup/pocketbackup/internal/filestamp"
)

// The power-cut tests run the swap and its recovery on simFS and cut the
// power after every operation of theirs (each write, fsync, rename,
// removal, folder creation): what was not made durable is lost. Killing a
// process (restore_test.go) never loses anything, so only these tests
// notice a missing fsync.

const (
	simData  = "/sim/pb_data"
	simState = simData + "/.pocketbackup"
	simWork  = simData + "/.pb_temp_to_delete/restore-1"
	simStage = simWork + "/staged"
	simOld   = simWork + "/old"
)

var simKeep = []string{"backups", ".pb_temp_to_delete", ".pocketbackup"}

var simOldTree = map[string]string{
	"data.db":             "old database",
	"data.db-wal":         "old wal",
	"auxiliary.db":        "old aux",
	"storage/a/file.txt":  "old file",
	"old-only-dir/deep/x": "x",
}

var simNewTree = map[string]string{
	"data.db":              "new database",
	"auxiliary.db":         "new aux",
	"storage/a/file.txt":   "new file",
	"storage/only-new.txt": "only in new",
	"new-only.txt":         "new",
}

const simKept = "backups/keep-me.zip"

// simChecked is what the host stamps at staging: the journal carries it
// through every cut.
var simChecked = []filestamp.Stamp{{Name: "data.db", Dev: 1, Ino: 2, Size: 12, ModTime: 3, SHA256: "ab"}}

// newSimDisk is a data directory with a staged backup beside it, all
// durable (the host makes the staged tree durable before the swap). The
// state folder does not exist yet: Prepare creates it.
func newSimDisk() *simFS {
	files := map[string]string{simData + "/" + simKept: "a backup that must stay"}
	for name, content := range simOldTree {
		files[simData+"/"+name] = content
	}
	for name, content := range simNewTree {
		files[simStage+"/"+name] = content
	}
	return newSimFS(files)
}

// simRestore is what the host does before it restarts: journal, swap.
func simRestore(t *testing.T, fsys *simFS, prepared *bool) {
	j, err := prepareOn(fsys, simState, simData, simStage, simOld, "b.zip", simKeep, simChecked)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	*prepared = true
	if err := Swap(j, nil); err != nil {
		t.Fatalf("swap: %v", err)
	}
}

// refuseNewDB is a Verify that fails the backup's data.
func refuseNewDB(fsys fileSystem) Verify {
	return func(dir string) error {
		if data, _ := fsys.ReadFile(path.Join(dir, "data.db")); string(data) == simNewTree["data.db"] {
			return errors.New("quick_check failed")
		}
		return nil
	}
}

func TestPowerCutDuringSwap(t *testing.T) {
	testPowerCuts(t, false)
}

// TestPowerCutDuringRollback: the restored data fails verification, so
// every recovery rolls back; cut at every operation of it, the data dir
// still ends wholly old.
func TestPowerCutDuringRollback(t *testing.T) {
	testPowerCuts(t, true)
}

// testPowerCuts cuts the power after every operation of a restore, then
// after every operation of the recovery that follows, and lets a last
// recovery complete: the data dir must be wholly old or wholly new, as the
// journal on the disk decides, and stay so through one more cut after the
// caller deleted the leftovers.
func testPowerCuts(t *testing.T, refuse bool) {
	cuts, recoveries := 0, 0
	for k := 0; ; k++ {
		disk := newSimDisk()
		prepared := false
		if !disk.run(k, func() { simRestore(t, disk, &prepared) }) {
			// The restore completed; one last cut after its end.
			checkRecoveries(t, k, disk.powerCut(), true, refuse, &recoveries)
			break
		}
		cuts++
		checkRecoveries(t, k, disk.powerCut(), prepared, refuse, &recoveries)
	}
	if cuts < 30 {
		t.Fatalf("only %d cut points in a restore", cuts)
	}
	t.Logf("%d cut points in the restore, %d recoveries checked", cuts+1, recoveries)
}

// checkRecoveries runs the recovery on disk (the state after a cut
// following k operations of the restore), cut after each of its own
// operations, followed by a complete recovery.
func checkRecoveries(t *testing.T, k int, disk *simFS, prepared, refuse bool, count *int) {
	t.Helper()
	j, err := readJournal(disk, simState)
	if err != nil {
		t.Fatalf("cut after %d: journal unreadable: %v", k, err)
	}
	if prepared && j == nil {
		t.Fatalf("cut after %d: Prepare returned but its journal did not survive the cut", k)
	}
	if j != nil && !slices.Equal(j.Checked, simChecked) {
		t.Fatalf("cut after %d: the journal's stamps are %+v, want %+v", k, j.Checked, simChecked)
	}
	want, what := simOldTree, "old"
	if j != nil && !refuse {
		want, what = simNewTree, "new"
	}
	for r := 0; ; r++ {
		*count++
		d := disk.clone()
		var verify Verify
		if refuse {
			verify = refuseNewDB(d)
		}
		var out Resolution
		if !d.run(r, func() { out, err = resumeOn(d, simState, verify, nil) }) {
			checkSettled(t, d, out, err, refuse, want, what, "cut after %d, recovery completed", k)
			return
		}
		d = d.powerCut()
		if refuse {
			verify = refuseNewDB(d)
		}
		out, err = resumeOn(d, simState, verify, nil)
		checkSettled(t, d, out, err, refuse, want, what, "cut after %d, recovery cut after %d, recovered", k, r)
	}
}

// checkSettled checks a completed recovery, then deletes the leftovers as
// the host does, cuts the power once more and recovers: nothing changes.
func checkSettled(t *testing.T, d *simFS, out Resolution, err error, refuse bool, want map[string]string, what, format string, args ...any) {
	t.Helper()
	fail := func(msg string, a ...any) {
		t.Helper()
		t.Fatalf(format+": "+msg, append(args, a...)...)
	}
	if err != nil {
		fail("recover: %v", err)
	}
	if got := d.tree(simData, simKeep); !maps.Equal(got, want) {
		fail("data dir is not wholly %s:\n got %v\nwant %v", what, got, want)
	}
	if data, _ := d.ReadFile(simData + "/" + simKept); string(data) != "a backup that must stay" {
		fail("kept %s: %q", simKept, data)
	}
	if out.Found && out.Restored == refuse {
		fail("outcome %+v, refused %v", out, refuse)
	}
	// The host deletes the leftovers once the app is up; then the power
	// goes again.
	removeAllDurably(t, d, simWork)
	d = d.powerCut()
	again, err := resumeOn(d, simState, nil, nil)
	if err != nil || again.Found {
		fail("recovery after a settled one and a cut: %+v, %v (the journal came back)", again, err)
	}
	if got := d.tree(simData, simKeep); !maps.Equal(got, want) {
		fail("after a settled recovery and a cut the data dir is not wholly %s:\n got %v", what, got)
	}
}

// removeAllDurably deletes the folder p with everything in it, as the
// host's cleanup does, and makes only that deletion durable: nothing else
// in p gets fsynced on the way.
func removeAllDurably(t *testing.T, d *simFS, p string) {
	t.Helper()
	if err := d.unlinkTree(p); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncDir(path.Dir(p)); err != nil {
		t.Fatal(err)
	}
}

// TestOSSyncDirCallsFsync proves that the real SyncDir reaches fsync(2):
// procfs refuses it with EINVAL, so the error can only come from the call.
func TestOSSyncDirCallsFsync(t *testing.T) {
	if err := (osFS{}).SyncDir("/proc/self"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("SyncDir(/proc/self) = %v, want EINVAL from fsync", err)
	}
	if err := (osFS{}).SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

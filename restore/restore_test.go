package restore_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pocketbackup/pocketbackup/internal/filestamp"
	"github.com/pocketbackup/pocketbackup/restore"
)

// keep are the entries a swap never moves (as the host lists them).
var keep = []string{"backups", ".pb_temp_to_delete", ".pocketbackup"}

var oldTree = map[string]string{
	"data.db":               "old database",
	"data.db-wal":           "old wal",
	"auxiliary.db":          "old aux",
	"storage/a/file.txt":    "old file",
	"storage/only-old.txt":  "only in old",
	"old-only-dir/deep/x":   "x",
	"backups/keep-me.zip":   "a backup that must stay",
	".pocketbackup/note.md": "state that must stay",
}

var newTree = map[string]string{
	"data.db":              "new database",
	"auxiliary.db":         "new aux",
	"storage/a/file.txt":   "new file",
	"storage/only-new.txt": "only in new",
	"new-only.txt":         "new",
}

// layout is one data dir with a staged backup beside the old data.
type layout struct {
	dataDir, stateDir, staged, old string
}

func newLayout(t *testing.T) layout {
	t.Helper()
	root := t.TempDir()
	l := layout{
		dataDir:  filepath.Join(root, "pb_data"),
		stateDir: filepath.Join(root, "pb_data", ".pocketbackup"),
		staged:   filepath.Join(root, "pb_data", ".pb_temp_to_delete", "restore-1", "staged"),
		old:      filepath.Join(root, "pb_data", ".pb_temp_to_delete", "restore-1", "old"),
	}
	writeTree(t, l.dataDir, oldTree)
	writeTree(t, l.staged, newTree)
	return l
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns dir's files (relative, '/') without the kept entries.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if slices.Contains(keep, strings.Split(rel, "/")[0]) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func withoutKept(tree map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tree {
		if !slices.Contains(keep, strings.Split(k, "/")[0]) {
			out[k] = v
		}
	}
	return out
}

func assertTree(t *testing.T, dir string, want map[string]string, what string) {
	t.Helper()
	got := readTree(t, dir)
	if !maps.Equal(got, withoutKept(want)) {
		t.Fatalf("data dir is not %s:\n got %v\nwant %v", what, got, withoutKept(want))
	}
	// The kept entries never move.
	for _, name := range []string{"backups/keep-me.zip", ".pocketbackup/note.md"} {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(data) != oldTree[name] {
			t.Fatalf("kept %s: %q, %v", name, data, err)
		}
	}
}

func TestSwapAndRecoverWithoutCrash(t *testing.T) {
	l := newLayout(t)
	j, err := restore.Prepare(l.stateDir, l.dataDir, l.staged, l.old, "b.zip", keep)
	if err != nil {
		t.Fatal(err)
	}
	if err := restore.Swap(j, nil); err != nil {
		t.Fatal(err)
	}
	assertTree(t, l.dataDir, newTree, "the backup's")
	out, err := restore.Resume(l.stateDir, nil, nil)
	if err != nil || !out.Found || !out.Restored || out.Key != "b.zip" {
		t.Fatalf("Resume = %+v, %v", out, err)
	}
	assertTree(t, l.dataDir, newTree, "the backup's")
	if _, err := os.Stat(filepath.Join(l.stateDir, restore.JournalFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal left: %v", err)
	}
	// The old data waits in the old folder for deletion.
	if got := readTree(t, l.old); !maps.Equal(got, withoutKept(oldTree)) {
		t.Fatalf("old folder holds %v", got)
	}
	out, err = restore.Resume(l.stateDir, nil, nil)
	if err != nil || out.Found {
		t.Fatalf("second Resume = %+v, %v", out, err)
	}
}

func TestRecoverRollsBackWhenVerifyFails(t *testing.T) {
	l := newLayout(t)
	j, err := restore.Prepare(l.stateDir, l.dataDir, l.staged, l.old, "bad.zip", keep)
	if err != nil {
		t.Fatal(err)
	}
	if err := restore.Swap(j, nil); err != nil {
		t.Fatal(err)
	}
	refuse := func(dir string) error {
		data, _ := os.ReadFile(filepath.Join(dir, "data.db"))
		if string(data) == "new database" {
			return errors.New("quick_check failed")
		}
		return nil
	}
	out, err := restore.Resume(l.stateDir, refuse, nil)
	if err != nil || !out.Found || out.Restored || out.Err == nil {
		t.Fatalf("Resume = %+v, %v", out, err)
	}
	assertTree(t, l.dataDir, oldTree, "the old data")
}

// TestRecoverCheckedGetsTheStagingStamps: the stamps taken of the staged
// files reach the verification at start, which refuses the swap when the
// swapped-in data.db no longer matches them.
func TestRecoverCheckedGetsTheStagingStamps(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		l := newLayout(t)
		stamp, err := filestamp.Take(l.staged, "data.db")
		if err != nil {
			t.Fatal(err)
		}
		j, err := restore.PrepareChecked(l.stateDir, l.dataDir, l.staged, l.old, "b.zip", keep, []filestamp.Stamp{stamp})
		if err != nil {
			t.Fatal(err)
		}
		if err := restore.Swap(j, nil); err != nil {
			t.Fatal(err)
		}
		if tamper {
			writeTree(t, l.dataDir, map[string]string{"data.db": "new databaze"})
		}
		var got []filestamp.Stamp
		verify := func(dir string, checked []filestamp.Stamp) error {
			got = checked
			for _, s := range checked {
				if ok, err := filestamp.Matches(dir, s); err != nil || !ok {
					return fmt.Errorf("%s changed since it was checked (%v)", s.Name, err)
				}
			}
			return nil
		}
		out, err := restore.ResumeChecked(l.stateDir, verify, nil)
		if err != nil || !out.Found || out.Restored == tamper {
			t.Fatalf("tampered %v: ResumeChecked = %+v, %v", tamper, out, err)
		}
		if len(got) != 1 || got[0] != stamp {
			t.Fatalf("verify got stamps %+v, want %+v", got, stamp)
		}
		if tamper {
			assertTree(t, l.dataDir, oldTree, "the old data")
		} else {
			assertTree(t, l.dataDir, newTree, "the backup's")
		}
	}
}

func TestNoJournalMeansOldData(t *testing.T) {
	l := newLayout(t)
	out, err := restore.Resume(l.stateDir, nil, nil)
	if err != nil || out.Found {
		t.Fatalf("Resume = %+v, %v", out, err)
	}
	assertTree(t, l.dataDir, oldTree, "the old data")
}

func TestAbandonBeforeSwap(t *testing.T) {
	l := newLayout(t)
	if _, err := restore.Prepare(l.stateDir, l.dataDir, l.staged, l.old, "b.zip", keep); err != nil {
		t.Fatal(err)
	}
	if err := restore.Abandon(l.stateDir); err != nil {
		t.Fatal(err)
	}
	assertTree(t, l.dataDir, oldTree, "the old data")
	if out, err := restore.Resume(l.stateDir, nil, nil); err != nil || out.Found {
		t.Fatalf("Resume after Abandon = %+v, %v", out, err)
	}
}

// crashEnv names the environment of the crashing subprocess.
const (
	envCrashDir  = "RESTORE_CRASH_DIR"
	envCrashAt   = "RESTORE_CRASH_AT"
	envCrashMode = "RESTORE_CRASH_MODE" // "swap", "recover" or "recover-refuse"
)

// TestCrashHelper is the subprocess: it runs a swap or a recovery over the
// layout in RESTORE_CRASH_DIR and SIGKILLs itself at step RESTORE_CRASH_AT.
func TestCrashHelper(t *testing.T) {
	root := os.Getenv(envCrashDir)
	if root == "" {
		return
	}
	l := layout{
		dataDir:  filepath.Join(root, "pb_data"),
		stateDir: filepath.Join(root, "pb_data", ".pocketbackup"),
		staged:   filepath.Join(root, "pb_data", ".pb_temp_to_delete", "restore-1", "staged"),
		old:      filepath.Join(root, "pb_data", ".pb_temp_to_delete", "restore-1", "old"),
	}
	at := os.Getenv(envCrashAt)
	hook := func(step string) {
		if step == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	switch os.Getenv(envCrashMode) {
	case "swap":
		if at == "staged" {
			hook("staged")
		}
		j, err := restore.Prepare(l.stateDir, l.dataDir, l.staged, l.old, "b.zip", keep)
		if err != nil {
			t.Fatal(err)
		}
		hook("journaled")
		if err := restore.Swap(j, hook); err != nil {
			t.Fatal(err)
		}
	case "recover":
		if _, err := restore.Resume(l.stateDir, nil, hook); err != nil {
			t.Fatal(err)
		}
	case "recover-refuse":
		if _, err := restore.Resume(l.stateDir, refuseNew, hook); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("no crash at " + at)
}

func refuseNew(dir string) error {
	data, _ := os.ReadFile(filepath.Join(dir, "data.db"))
	if string(data) == "new database" {
		return errors.New("refused")
	}
	return nil
}

// crashAt runs the helper subprocess and expects it to die of SIGKILL.
func crashAt(t *testing.T, root, mode, step string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), envCrashDir+"="+root, envCrashAt+"="+step, envCrashMode+"="+mode)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper at %s/%s did not die of SIGKILL: %v\n%s", mode, step, err, out)
	}
}

// swapSteps lists every hook step of a full swap, in order.
func swapSteps(t *testing.T) []string {
	t.Helper()
	l := newLayout(t)
	steps := []string{"staged", "journaled"}
	j, err := restore.Prepare(l.stateDir, l.dataDir, l.staged, l.old, "b.zip", keep)
	if err != nil {
		t.Fatal(err)
	}
	if err := restore.Swap(j, func(s string) { steps = append(steps, s) }); err != nil {
		t.Fatal(err)
	}
	return steps
}

// TestCrashAtEveryStep kills the process at every step of a restore: after
// the next recovery the data dir is exactly old (crash before the journal)
// or exactly the backup's, never a mix.
func TestCrashAtEveryStep(t *testing.T) {
	steps := swapSteps(t)
	if len(steps) < 10 {
		t.Fatalf("only %d steps: %v", len(steps), steps)
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			l := newLayout(t)
			root := filepath.Dir(l.dataDir)
			crashAt(t, root, "swap", step)
			out, err := restore.Resume(l.stateDir, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if step == "staged" {
				if out.Found {
					t.Fatal("journal found although the crash came before it")
				}
				assertTree(t, l.dataDir, oldTree, "the old data")
				return
			}
			if !out.Restored {
				t.Fatalf("Resume = %+v", out)
			}
			assertTree(t, l.dataDir, newTree, "the backup's")
		})
	}
}

// TestCrashDuringRecovery kills a swap, then kills the recovery at each
// of its steps, as a recording run of that recovery lists them; the
// recovery after that completes the restore.
func TestCrashDuringRecovery(t *testing.T) {
	// From the journal alone the recovery does the whole swap; from
	// midway it skips what was done.
	for _, swapStep := range []string{"journaled", "moved-out:data.db", "moved-in:data.db"} {
		t.Run(swapStep, func(t *testing.T) {
			testCrashesDuringRecovery(t, swapStep, "recover", newTree, "the backup's")
		})
	}
}

// TestCrashDuringRollback: verification refuses the new data and the
// recovery, which rolls back, is killed at each of its steps; the next
// recovery ends with the old data.
func TestCrashDuringRollback(t *testing.T) {
	// After a complete swap the rollback undoes all of it; from midway
	// the recovery first completes the swap, then rolls it back.
	for _, swapStep := range []string{"swapped", "moved-out:data.db"} {
		t.Run(swapStep, func(t *testing.T) {
			testCrashesDuringRecovery(t, swapStep, "recover-refuse", oldTree, "the old data")
		})
	}
}

// testCrashesDuringRecovery kills a swap at swapStep, lists the steps of
// the recovery (mode "recover" or "recover-refuse") that follows, and for
// each: kills that recovery there, recovers again and expects want.
func testCrashesDuringRecovery(t *testing.T, swapStep, mode string, want map[string]string, what string) {
	base := newLayout(t)
	crashAt(t, filepath.Dir(base.dataDir), "swap", swapStep)
	var verify restore.Verify
	if mode == "recover-refuse" {
		verify = refuseNew
	}
	var steps []string
	probe := copyLayout(t, base)
	if _, err := restore.Resume(probe.stateDir, verify, func(s string) { steps = append(steps, s) }); err != nil {
		t.Fatal(err)
	}
	if len(steps) < 2 {
		t.Fatalf("only %d recovery steps: %v", len(steps), steps)
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			l := copyLayout(t, base)
			crashAt(t, filepath.Dir(l.dataDir), mode, step)
			out, err := restore.Resume(l.stateDir, verify, nil)
			if err != nil || !out.Found || out.Restored != (verify == nil) || (out.Err == nil) != (verify == nil) {
				t.Fatalf("Resume = %+v, %v", out, err)
			}
			assertTree(t, l.dataDir, want, what)
		})
	}
}

// copyLayout copies l's whole tree (data dir, staging, old folder,
// journal) into a fresh folder; the journal's absolute paths follow.
func copyLayout(t *testing.T, l layout) layout {
	t.Helper()
	from := filepath.Dir(l.dataDir)
	to := t.TempDir()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if d.Name() == restore.JournalFile {
			data = bytes.ReplaceAll(data, []byte(from+"/"), []byte(to+"/"))
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	rebase := func(p string) string {
		rel, _ := filepath.Rel(from, p)
		return filepath.Join(to, rel)
	}
	return layout{dataDir: rebase(l.dataDir), stateDir: rebase(l.stateDir), staged: rebase(l.staged), old: rebase(l.old)}
}

func ExampleResume() {
	out, err := restore.Resume(os.TempDir()+"/no-such-state-dir", nil, nil)
	fmt.Println(out.Found, err)
	// Output: false <nil>
}

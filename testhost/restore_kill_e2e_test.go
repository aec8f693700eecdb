package main

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// journalName is the restore journal inside the data dir (package
// restore's JournalFile in host's state folder).
const journalName = ".pocketbackup/restore-journal.json"

// TestHostKilledAfterRestoreJournal SIGKILLs the host once a restore has
// written its journal, at two moments: just before the re-exec (the host
// holds there with TESTHOST_STOP_BEFORE_RESTART, so the swap is done
// and the new data unverified), and the instant the journal is renamed
// into place (inotify), which lands during the swap or just after. Either
// way the next start must complete the restore from the journal: the
// backup's data, wholly, checked through the API.
func TestHostKilledAfterRestoreJournal(t *testing.T) {
	t.Run("stopped before the restart", func(t *testing.T) {
		testKilledAfterJournal(t, []string{"TESTHOST_STOP_BEFORE_RESTART=1"}, nil, func(t *testing.T, p *proc) {
			for deadline := time.Now().Add(60 * time.Second); !strings.Contains(p.log.String(), holdMarker); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the host never held before its restart")
				}
			}
			if _, err := os.Stat(filepath.Join(p.dataDir, journalName)); err != nil {
				t.Fatalf("no restore journal when the host is killed: %v", err)
			}
		})
	})
	t.Run("as the journal appears", func(t *testing.T) {
		var watch *os.File
		testKilledAfterJournal(t, nil, func(t *testing.T, p *proc) {
			watch = watchRename(t, filepath.Dir(filepath.Join(p.dataDir, journalName)))
		}, func(t *testing.T, p *proc) {
			waitRenamedTo(t, watch, filepath.Base(journalName))
		})
	})
}

// testKilledAfterJournal: old data "after the backup" on top of a backup
// holding "in the backup"; ready runs before the restore is asked for,
// moment waits for the moment to SIGKILL the host.
func testKilledAfterJournal(t *testing.T, env []string, ready, moment func(*testing.T, *proc)) {
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	addr := freeLoopback(t)
	p := startProc(t, bin, pluginsDir, dataDir, addr, env...)
	// Runs before startProc's cleanup: a host holding before its restart
	// would never act on its SIGTERM.
	t.Cleanup(func() { _ = p.cmd.Process.Signal(syscall.SIGUSR1) })
	if status := p.call("POST", "/api/collections/notes/records", map[string]string{"title": "in the backup"}, nil); status != 200 {
		t.Fatalf("create note: %d", status)
	}
	p.backupAndWait("journaled.zip")
	if status := p.call("POST", "/api/collections/notes/records", map[string]string{"title": "after the backup"}, nil); status != 200 {
		t.Fatalf("create note: %d", status)
	}
	pluginPID := pluginPIDOf(t, p.cmd.Process.Pid)
	if ready != nil {
		ready(t, p)
	}
	if status := p.call("POST", "/api/backups/journaled.zip/restore", nil, nil); status != 204 {
		t.Fatalf("restore: %d", status)
	}
	moment(t, p)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	old, _ := os.ReadDir(filepath.Join(dataDir, ".pb_temp_to_delete"))
	for _, d := range old {
		moved, _ := os.ReadDir(filepath.Join(dataDir, ".pb_temp_to_delete", d.Name(), "old"))
		staged, _ := os.ReadDir(filepath.Join(dataDir, ".pb_temp_to_delete", d.Name(), "staged"))
		t.Logf("killed with %d old entries moved out and %d staged entries still to move in", len(moved), len(staged))
	}
	// The orphaned plugin notices its host is gone and exits.
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pluginPID, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("orphaned plugin %d still running", pluginPID)
		}
	}

	next := startProc(t, bin, pluginsDir, dataDir, addr)
	if titles := next.noteTitles(); len(titles) != 1 || titles[0] != "in the backup" {
		t.Fatalf("after a kill with the journal written the data should be the backup's; notes %v", titles)
	}
	last, _ := next.health()["lastOperation"].(map[string]any)
	if last["kind"] != "restore" || last["key"] != "journaled.zip" || last["ok"] != true {
		t.Fatalf("last operation after the completed restore: %v", last)
	}
	if _, err := os.Stat(filepath.Join(dataDir, journalName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("journal left after the restore completed: %v", err)
	}
	var list []struct{ Key string }
	if status := next.call("GET", "/api/backups", nil, &list); status != 200 || len(list) != 1 || list[0].Key != "journaled.zip" {
		t.Fatalf("backups after the restore: %d %v", status, list)
	}
}

// watchRename returns an inotify watch of the entries renamed into dir.
func watchRename(t *testing.T, dir string) *os.File {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	t.Cleanup(func() { f.Close() })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitRenamedTo returns as soon as watch reports name renamed into place.
func waitRenamedTo(t *testing.T, watch *os.File, name string) {
	t.Helper()
	if err := watch.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := watch.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			nameLen := int(binary.NativeEndian.Uint32(buf[off+int(unsafe.Offsetof(syscall.InotifyEvent{}.Len)):]))
			got := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+nameLen]), "\x00")
			if got == name {
				return
			}
			off += syscall.SizeofInotifyEvent + nameLen
		}
	}
}

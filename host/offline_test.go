package host_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/shared"
)

// TestDataDirLock: a running host holds its data directory; a second host
// and the offline commands refuse it until the first one closes, and a
// host cannot start while an offline operation holds it.
func TestDataDirLock(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	makeDatabase(t, filepath.Join(dataDir, "data.db"), 3)
	cfg := host.Config{DataDir: dataDir, PluginsDir: pluginDir, Auth: newEnvAuth(t)}
	h, err := host.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h2, err := host.New(ctx, cfg); !errors.Is(err, host.ErrDataDirInUse) {
		if h2 != nil {
			_ = h2.Close()
		}
		t.Fatalf("second host on one data dir: err = %v, want ErrDataDirInUse", err)
	}
	if _, err := host.OpenOffline(ctx, host.OfflineConfig{DataDir: dataDir, PluginsDir: pluginDir}); !errors.Is(err, host.ErrDataDirInUse) {
		t.Fatalf("offline while a host runs: err = %v, want ErrDataDirInUse", err)
	}
	if err := host.Recover(ctx, dataDir, nil); !errors.Is(err, host.ErrDataDirInUse) {
		t.Fatalf("Recover while a host runs: err = %v, want ErrDataDirInUse", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	off, err := host.OpenOffline(ctx, host.OfflineConfig{DataDir: dataDir, PluginsDir: pluginDir})
	if err != nil {
		t.Fatalf("offline after the host closed: %v", err)
	}
	if h2, err := host.New(ctx, cfg); !errors.Is(err, host.ErrDataDirInUse) {
		if h2 != nil {
			_ = h2.Close()
		}
		t.Fatalf("host while offline runs: err = %v, want ErrDataDirInUse", err)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	h, err = host.New(ctx, cfg)
	if err != nil {
		t.Fatalf("host after offline closed: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOfflineCreateRestoreVerify: an offline create, a change, an offline
// restore brings the data back; verify passes quick and deep on the
// archive and refuses a damaged copy.
func TestOfflineCreateRestoreVerify(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	makeDatabase(t, filepath.Join(dataDir, "data.db"), 20)
	store := t.TempDir()
	storageURL := "file://" + store
	var progressed int64
	off, err := host.OpenOffline(ctx, host.OfflineConfig{DataDir: dataDir, PluginsDir: pluginDir,
		Progress: func(done, _ int64) { progressed = done }})
	if err != nil {
		t.Fatal(err)
	}
	info, err := off.Create(ctx, storageURL, "offline.zip")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size <= 0 || progressed <= 0 {
		t.Fatalf("create: size %d, progress %d", info.Size, progressed)
	}
	addNotes(t, filepath.Join(dataDir, "data.db"), 5)
	if err := off.Restore(ctx, storageURL, "offline.zip"); err != nil {
		t.Fatal(err)
	}
	if n := countNotes(t, filepath.Join(dataDir, "data.db")); n != 20 {
		t.Fatalf("after offline restore: %d notes, want 20", n)
	}
	for _, deep := range []bool{false, true} {
		if _, err := off.Verify(ctx, storageURL, "offline.zip", deep, t.TempDir()); err != nil {
			t.Fatalf("verify deep=%v: %v", deep, err)
		}
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}

	// A truncated copy fails the quick check; a copy with a flipped byte
	// in an entry's data fails the deep one.
	data, err := os.ReadFile(filepath.Join(store, "offline.zip"))
	if err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	flipped := append([]byte{}, data...)
	flipped[len(flipped)/4] ^= 0xff
	if err := os.WriteFile(filepath.Join(bad, "truncated.zip"), data[:len(data)-40], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "flipped.zip"), flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := host.OpenOffline(ctx, host.OfflineConfig{PluginsDir: pluginDir, ScratchDir: bad})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Verify(ctx, "file://"+bad, "truncated.zip", false, bad); err == nil {
		t.Error("quick verify of a truncated archive passed")
	}
	if _, err := v.Verify(ctx, "file://"+bad, "flipped.zip", true, bad); err == nil {
		t.Error("deep verify of an archive with a flipped byte passed")
	}
}

// TestOfflineEncrypted: with the app's keys an offline create stores an
// age file and an offline restore decrypts it; without them the restore
// is refused naming the missing key, and the data is left as it was.
func TestOfflineEncrypted(t *testing.T) {
	ctx := context.Background()
	keys := genKeys(t)
	dataDir := t.TempDir()
	makeDatabase(t, filepath.Join(dataDir, "data.db"), 20)
	store := t.TempDir()
	storageURL := "file://" + store
	off, err := host.OpenOffline(ctx, host.OfflineConfig{DataDir: dataDir, PluginsDir: pluginDir, EncryptionKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Create(ctx, storageURL, "enc.zip"); err != nil {
		t.Fatal(err)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(store, "enc.zip"))
	if err != nil {
		t.Fatal(err)
	}
	assertStoredCiphertext(t, stored)
	addNotes(t, filepath.Join(dataDir, "data.db"), 5)

	noKey, err := host.OpenOffline(ctx, host.OfflineConfig{DataDir: dataDir, PluginsDir: pluginDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := noKey.Restore(ctx, storageURL, "enc.zip"); !errors.Is(err, shared.ErrNoKey) {
		t.Errorf("restore without the key: %v, want ErrNoKey", err)
	}
	if err := noKey.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countNotes(t, filepath.Join(dataDir, "data.db")); n != 25 {
		t.Fatalf("after the refused restore: %d notes, want the 25 there were", n)
	}
	withKey, err := host.OpenOffline(ctx, host.OfflineConfig{DataDir: dataDir, PluginsDir: pluginDir, EncryptionKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer withKey.Close()
	if err := withKey.Restore(ctx, storageURL, "enc.zip"); err != nil {
		t.Fatal(err)
	}
	if n := countNotes(t, filepath.Join(dataDir, "data.db")); n != 20 {
		t.Fatalf("after the restore: %d notes, want the backup's 20", n)
	}
}

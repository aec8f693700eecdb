package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResetTempDir: leftovers move into one trash folder at once (the
// app's start does not wait for their deletion); a trash folder an earlier
// stop left goes into the new one; an empty folder gives no trash.
func TestResetTempDir(t *testing.T) {
	dataDir := t.TempDir()
	tmp := filepath.Join(dataDir, tempDirName)

	trash, err := resetTempDir(dataDir)
	if err != nil || trash != "" {
		t.Fatalf("fresh: trash %q, err %v; want none", trash, err)
	}
	if info, err := os.Stat(tmp); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("scratch folder: %v, %v; want a 0700 folder", info, err)
	}

	for _, p := range []string{"restore-1/old/data.db", "restore-1/staged/x", "snapshot-2/aux.db", "trash-old/y"} {
		path := filepath.Join(tmp, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trash, err = resetTempDir(dataDir)
	if err != nil || !strings.HasPrefix(filepath.Base(trash), "trash-") || filepath.Dir(trash) != tmp {
		t.Fatalf("trash %q, err %v; want a trash- folder inside %s", trash, err, tmp)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) != 1 || left[0].Name() != filepath.Base(trash) {
		t.Fatalf("scratch folder holds %v, want only the trash", left)
	}
	for _, p := range []string{"restore-1/old/data.db", "snapshot-2/aux.db", "trash-old/y"} {
		if _, err := os.Stat(filepath.Join(trash, p)); err != nil {
			t.Errorf("%s not in the trash: %v", p, err)
		}
	}
}

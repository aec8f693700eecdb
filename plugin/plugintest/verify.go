package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Raw reaches the storage behind a Target directly, to store what the
// Backups API never would: an object without a digest (a backup from
// before digests, or PocketBase's), or one whose bytes changed after its
// digest was recorded (rot, tampering).
type Raw struct {
	// Put stores data under key with no digest recorded.
	Put func(t *testing.T, key string, data []byte)
	// PutTampered stores data under key with sum recorded as its digest.
	PutTampered func(t *testing.T, key string, data []byte, sum string)
}

// RawStore is a Raw through a store the Target's URL opens: Put writes
// without a digest, PutTampered hands the writer a digest of other bytes
// (storage.DigestWriter).
func RawStore(open func(t *testing.T) storage.Store) Raw {
	put := func(t *testing.T, key string, data []byte, sum string) {
		t.Helper()
		st := open(t)
		defer st.Close()
		w, err := st.NewWriter(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if sum != "" {
			if err := w.(storage.DigestWriter).SetSHA256(sum); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return Raw{
		Put:         func(t *testing.T, key string, data []byte) { put(t, key, data, "") },
		PutTampered: put,
	}
}

func hexSum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// verify runs a verification with a fresh scratch directory.
func verify(t *testing.T, tg Target, key, mode string) (shared.VerifyResult, error) {
	t.Helper()
	scratch := filepath.Join(t.TempDir(), "scratch")
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	return tg.Backups.Verify(context.Background(), shared.VerifyRequest{StorageURL: tg.StorageURL, Key: key, Mode: mode, ScratchDir: scratch}, nil)
}

// flipInEntry returns a copy of a zip with one byte of the named entry's
// stored data changed (its CRC-32 no longer matches).
func flipInEntry(t *testing.T, zipData []byte, name string) []byte {
	t.Helper()
	out := bytes.Clone(zipData)
	// A local header: signature, 26 bytes of fields, the name, the extra.
	i := bytes.Index(out, []byte("PK\x03\x04"))
	for i >= 0 {
		nameLen := int(out[i+26]) | int(out[i+27])<<8
		extraLen := int(out[i+28]) | int(out[i+29])<<8
		if string(out[i+30:i+30+nameLen]) == name {
			out[i+30+nameLen+extraLen+1] ^= 0xff
			return out
		}
		next := bytes.Index(out[i+4:], []byte("PK\x03\x04"))
		if next < 0 {
			break
		}
		i += 4 + next
	}
	t.Fatalf("entry %q not found", name)
	return nil
}

// RunVerify checks digests and verification through tg: every backup
// written through the Backups API has its digest listed; quick and deep
// verification pass on a good backup and name what is wrong with a bad
// one; a backup without digest is "first seen" and gets one; Extract
// refuses bytes that no longer match their digest.
func RunVerify(t *testing.T, tg Target, raw Raw) {
	ctx := context.Background()
	info, err := tg.Backups.Create(ctx, createRequest(t, tg, "good.zip"), nil)
	if err != nil {
		t.Fatal(err)
	}
	good := download(t, tg, "good.zip", 0, -1)
	if info.SHA256 != hexSum(good) {
		t.Errorf("Create: SHA256 %q, want %q", info.SHA256, hexSum(good))
	}
	list, err := tg.Backups.List(ctx, tg.StorageURL)
	if err != nil || len(list) != 1 || list[0].SHA256 != hexSum(good) {
		t.Fatalf("List = %+v, %v; want good.zip with its digest", list, err)
	}
	up, err := tg.Backups.Upload(ctx, tg.StorageURL, "uploaded.zip", bytes.NewReader(good))
	if err != nil || up.SHA256 != hexSum(good) {
		t.Errorf("Upload: SHA256 %q, %v; want %q", up.SHA256, err, hexSum(good))
	}

	t.Run("GoodQuickAndDeep", func(t *testing.T) {
		res, err := verify(t, tg, "good.zip", shared.VerifyQuick)
		if err != nil || res.Problem != "" || res.FirstSeen || res.SHA256 != hexSum(good) || res.Entries == 0 {
			t.Fatalf("quick verify = %+v, %v; want ok", res, err)
		}
		res, err = verify(t, tg, "good.zip", shared.VerifyDeep)
		if err != nil || res.Problem != "" || res.Extracted == "" {
			t.Fatalf("deep verify = %+v, %v; want ok and extracted", res, err)
		}
		if _, err := os.Stat(filepath.Join(res.Extracted, "data.db")); err != nil {
			t.Errorf("deep verify extracted no data.db: %v", err)
		}
	})
	t.Run("CorruptEntry", func(t *testing.T) {
		bad := flipInEntry(t, good, "storage/abc/file1.txt")
		if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "crc.zip", bytes.NewReader(bad)); err != nil {
			t.Fatal(err) // the central directory is fine: uploads check only that
		}
		res, err := verify(t, tg, "crc.zip", shared.VerifyQuick)
		if err != nil || !strings.Contains(res.Problem, `"storage/abc/file1.txt"`) {
			t.Fatalf("quick verify = %+v, %v; want a problem naming storage/abc/file1.txt", res, err)
		}
	})
	t.Run("ChangedAfterDigest", func(t *testing.T) {
		raw.PutTampered(t, "rot.zip", flipInEntry(t, good, "storage/abc/file1.txt"), hexSum(good))
		res, err := verify(t, tg, "rot.zip", shared.VerifyQuick)
		if err != nil || !strings.Contains(res.Problem, "does not match the SHA-256") {
			t.Fatalf("quick verify = %+v, %v; want a digest mismatch", res, err)
		}
		dest := filepath.Join(t.TempDir(), "staging")
		if err := os.Mkdir(dest, 0o700); err != nil {
			t.Fatal(err)
		}
		err = tg.Backups.Extract(ctx, shared.ExtractRequest{StorageURL: tg.StorageURL, Key: "rot.zip", DestDir: dest}, nil)
		if !errors.Is(err, shared.ErrDigestMismatch) {
			t.Errorf("Extract of changed bytes: %v, want ErrDigestMismatch", err)
		}
		if entries, _ := os.ReadDir(dest); len(entries) != 0 {
			t.Errorf("Extract of changed bytes wrote %d entries", len(entries))
		}
	})
	t.Run("FirstSeen", func(t *testing.T) {
		raw.Put(t, "old.zip", good)
		if info, err := tg.Backups.Stat(ctx, tg.StorageURL, "old.zip"); err == nil && info.SHA256 != "" {
			t.Skip("the store records every object's digest itself: no backup is ever without one")
		}
		res, err := verify(t, tg, "old.zip", shared.VerifyQuick)
		if err != nil || res.Problem != "" || !res.FirstSeen {
			t.Fatalf("first verify = %+v, %v; want ok, first seen", res, err)
		}
		info, err := tg.Backups.Stat(ctx, tg.StorageURL, "old.zip")
		if err != nil || info.SHA256 != hexSum(good) {
			t.Fatalf("Stat after first verify = %+v, %v; want the digest recorded", info, err)
		}
		if res, err = verify(t, tg, "old.zip", shared.VerifyQuick); err != nil || res.FirstSeen {
			t.Errorf("second verify = %+v, %v; want not first seen", res, err)
		}
	})
	t.Run("Hostile", func(t *testing.T) {
		raw.Put(t, "hostile.zip", makeZip(t, map[string]string{"data.db": "x", "../escape.txt": "x"}))
		res, err := verify(t, tg, "hostile.zip", shared.VerifyQuick)
		if err != nil || !strings.Contains(res.Problem, "escape.txt") {
			t.Errorf("verify of a hostile archive = %+v, %v; want a problem naming the entry", res, err)
		}
		raw.Put(t, "truncated.zip", good[:len(good)/2])
		if res, err = verify(t, tg, "truncated.zip", shared.VerifyQuick); err != nil || res.Problem == "" {
			t.Errorf("verify of a truncated archive = %+v, %v; want a problem", res, err)
		}
	})
	t.Run("BadRequests", func(t *testing.T) {
		if _, err := verify(t, tg, "missing.zip", shared.VerifyQuick); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("verify of a missing key: %v, want ErrNotFound", err)
		}
		if _, err := verify(t, tg, "good.zip", "thorough"); !errors.Is(err, shared.ErrInvalid) {
			t.Errorf("verify with an unknown mode: %v, want ErrInvalid", err)
		}
	})
}

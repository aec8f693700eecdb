package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/plugintest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// marker is written into the app's data; it must never show in storage.
const marker = "MARKER-7f3a-plaintext-must-not-reach-storage"

func newKeys(t *testing.T) *atrest.Keys {
	t.Helper()
	text, err := atrest.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := atrest.ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keysOf(t *testing.T, ks ...*atrest.Keys) *atrest.Keys {
	t.Helper()
	var text string
	for _, k := range ks {
		text += k.Text()
	}
	k, err := atrest.ParseKeys([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeS3URL starts an S3-protocol server and returns an s3:// URL of a
// bucket in it and the backend, to read what is stored.
func fakeS3URL(t *testing.T) (string, *s3mem.Backend) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("enc"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server())
	t.Cleanup(srv.Close)
	return shared.S3URL(shared.S3Config{Bucket: "enc", Region: "us-east-1", Endpoint: srv.URL,
		AccessKey: "AK", Secret: "SK", ForcePathStyle: true}), backend
}

func encryptedService(t *testing.T, keys *atrest.Keys) *plugin.Service {
	t.Helper()
	svc := plugin.NewService(storage.Open, nil)
	svc.SetKeys(keys)
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// TestEncryptedConformance: with a key, the whole Backups contract holds
// unchanged (downloads, ranges, uploads of plain zips, inspect, extract),
// in-process and through the gRPC glue, over memory, a folder and S3.
func TestEncryptedConformance(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"mem":  func(t *testing.T) string { return "mem://" },
		"file": func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "backups") },
		"s3":   func(t *testing.T) string { u, _ := fakeS3URL(t); return u },
	}
	keys := newKeys(t)
	for name, newURL := range urls {
		t.Run(name, func(t *testing.T) {
			plugintest.Run(t, func(t *testing.T) plugintest.Target {
				return plugintest.Target{Backups: encryptedService(t, keys), StorageURL: newURL(t)}
			})
		})
	}
	t.Run("grpc", func(t *testing.T) {
		plugintest.Run(t, func(t *testing.T) plugintest.Target {
			svc := encryptedService(t, keys)
			client, _ := goplugin.TestPluginGRPCConn(t, false, shared.PluginMap(svc))
			t.Cleanup(func() { _ = client.Close() })
			raw, err := client.Dispense(shared.PluginName)
			if err != nil {
				t.Fatal(err)
			}
			return plugintest.Target{Backups: raw.(shared.Backups), StorageURL: "file://" + filepath.Join(t.TempDir(), "backups")}
		})
	})
}

// markedDataDir is a data directory with the marker in its database and
// files.
func markedDataDir(t *testing.T) string {
	t.Helper()
	dir := plugintest.DataDir(t)
	for _, name := range []string{"data.db", "storage/abc/secret.txt"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(strings.Repeat(marker+"\n", 100)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func create(t *testing.T, b shared.Backups, url, key, dir string) shared.BackupInfo {
	t.Helper()
	info, err := b.Create(context.Background(), shared.CreateRequest{StorageURL: url, Key: key, DataDir: dir}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return info
}

func readAll(t *testing.T) func(dl *shared.Download, err error) []byte {
	return func(dl *shared.Download, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer dl.Close()
		b, err := io.ReadAll(dl)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return b
	}
}

// assertCiphertext fails when stored bytes look like a zip or hold the
// marker.
func assertCiphertext(t *testing.T, where string, stored []byte) {
	t.Helper()
	head := stored[:min(len(stored), 1<<20)]
	zipHeader := bytes.Contains(head, []byte("PK\x03\x04")) || bytes.Contains(head, []byte("PK\x01\x02")) || bytes.Contains(head, []byte("PK\x05\x06"))
	if zipHeader || bytes.Contains(stored, []byte(marker)) || !atrest.IsEncrypted(stored) {
		t.Fatalf("%s: stored bytes are not only ciphertext (%d bytes, starts %q)", where, len(stored), stored[:min(len(stored), 24)])
	}
}

// TestStoredBytesAreCiphertext: what a folder and an S3 bucket hold is an
// age file without "PK" or the app's data in it; a download gives back
// the plain zip, whole and by ranges, and the stored form on request.
func TestStoredBytesAreCiphertext(t *testing.T) {
	keys := newKeys(t)
	dir := markedDataDir(t)
	ctx := context.Background()

	folder := filepath.Join(t.TempDir(), "backups")
	s3url, backend := fakeS3URL(t)
	for _, tc := range []struct {
		name, url string
		stored    func(key string) []byte
	}{
		{"file", "file://" + folder, func(key string) []byte {
			b, err := os.ReadFile(filepath.Join(folder, key))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"s3", s3url, func(key string) []byte {
			obj, err := backend.GetObject("enc", key, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Contents.Close()
			b, _ := io.ReadAll(obj.Contents)
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := encryptedService(t, keys)
			info := create(t, svc, tc.url, "enc.zip", dir)
			stored := tc.stored("enc.zip")
			assertCiphertext(t, tc.name, stored)
			if !info.Encrypted || info.StoredSize != int64(len(stored)) {
				t.Fatalf("info = %+v, stored %d bytes", info, len(stored))
			}
			plain := readAll(t)(svc.Open(ctx, tc.url, "enc.zip", 0, -1))
			if int64(len(plain)) != info.Size || !bytes.HasPrefix(plain, []byte("PK")) || !bytes.Contains(plain, []byte("storage/abc/secret.txt")) {
				t.Fatalf("download: %d bytes (info says %d), not the plain zip", len(plain), info.Size)
			}
			// The same data archived without a key is the same zip.
			plainSvc := plugin.NewService(storage.Open, nil)
			defer plainSvc.Close()
			plainURL := "file://" + filepath.Join(t.TempDir(), "plain")
			create(t, plainSvc, plainURL, "plain.zip", dir)
			want := readAll(t)(plainSvc.Open(ctx, plainURL, "plain.zip", 0, -1))
			if !bytes.Equal(plain, want) {
				t.Fatalf("decrypted download differs from the plain archive (%d vs %d bytes)", len(plain), len(want))
			}
			for _, r := range [][2]int64{{0, 10}, {int64(len(plain)) - 7, 7}, {int64(len(plain)) / 2, -1}, {70_000, 100}} {
				if r[0] >= int64(len(plain)) {
					continue
				}
				got := readAll(t)(svc.Open(ctx, tc.url, "enc.zip", r[0], r[1]))
				end := int64(len(plain))
				if r[1] >= 0 {
					end = r[0] + r[1]
				}
				if !bytes.Equal(got, plain[r[0]:end]) {
					t.Fatalf("range %v: wrong bytes", r)
				}
			}
			raw := readAll(t)(svc.OpenStored(ctx, tc.url, "enc.zip", 0, -1))
			if !bytes.Equal(raw, stored) {
				t.Fatal("OpenStored does not return the stored bytes")
			}
			list, err := svc.List(ctx, tc.url)
			if err != nil || len(list) != 1 || !list[0].Encrypted || list[0].Size != info.Size {
				t.Fatalf("list = %+v, %v", list, err)
			}
			// Uploading the stored form under another name: accepted,
			// stored as it is, and restorable.
			if _, err := svc.Upload(ctx, tc.url, "again.zip", bytes.NewReader(stored)); err != nil {
				t.Fatalf("upload of an encrypted backup: %v", err)
			}
			if !bytes.Equal(tc.stored("again.zip"), stored) {
				t.Fatal("an uploaded encrypted backup is not stored as it is")
			}
			// A plain zip uploaded is encrypted on its way in.
			if _, err := svc.Upload(ctx, tc.url, "up.zip", bytes.NewReader(want)); err != nil {
				t.Fatalf("upload of a plain zip: %v", err)
			}
			assertCiphertext(t, tc.name+" upload", tc.stored("up.zip"))
			if got := readAll(t)(svc.Open(ctx, tc.url, "up.zip", 0, -1)); !bytes.Equal(got, want) {
				t.Fatal("uploaded zip does not download as it was")
			}
			sum, err := svc.Inspect(ctx, tc.url, "again.zip")
			if err != nil || !sum.HasDataDB {
				t.Fatalf("inspect: %+v, %v", sum, err)
			}
			dest := filepath.Join(t.TempDir(), "stage")
			if err := os.Mkdir(dest, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := svc.Extract(ctx, shared.ExtractRequest{StorageURL: tc.url, Key: "enc.zip", DestDir: dest}, nil); err != nil {
				t.Fatalf("extract: %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dest, "storage", "abc", "secret.txt")); !bytes.Contains(b, []byte(marker)) {
				t.Fatal("extracted files are not the app's")
			}
		})
	}
}

// TestDecryptionRefusals: no key, a wrong key, a flipped byte and a
// truncated object each fail with their own kind, for inspect (the
// restore's pre-check), extract (the restore) and download; an upload of
// damaged ciphertext is refused and leaves nothing.
func TestDecryptionRefusals(t *testing.T) {
	ctx := context.Background()
	a, b := newKeys(t), newKeys(t)
	folder := filepath.Join(t.TempDir(), "backups")
	url := "file://" + folder
	// Big enough for several age chunks.
	dir := markedDataDir(t)
	plugintestWriteRandom(t, filepath.Join(dir, "storage", "big.bin"), 300<<10)
	create(t, encryptedService(t, a), url, "a.zip", dir)
	stored, err := os.ReadFile(filepath.Join(folder, "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(key string, data []byte) {
		if err := os.WriteFile(filepath.Join(folder, key), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/2] ^= 0x40
	write("flipped.zip", flipped)
	write("truncated.zip", stored[:len(stored)-1000])

	for _, tc := range []struct {
		name    string
		keys    *atrest.Keys
		key     string
		want    error
		inspect bool // whether the cheap pre-check catches it
	}{
		{"no key", nil, "a.zip", shared.ErrNoKey, true},
		{"wrong key", b, "a.zip", shared.ErrWrongKey, true},
		{"flipped byte", a, "flipped.zip", shared.ErrInvalid, false},
		{"truncated", a, "truncated.zip", shared.ErrInvalid, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := plugin.NewService(storage.Open, nil)
			svc.SetKeys(tc.keys)
			defer svc.Close()
			_, err := svc.Inspect(ctx, url, tc.key)
			if tc.inspect && !errors.Is(err, tc.want) {
				t.Fatalf("inspect: %v, want %v", err, tc.want)
			}
			dest := filepath.Join(t.TempDir(), "stage")
			if err := os.Mkdir(dest, 0o700); err != nil {
				t.Fatal(err)
			}
			err = svc.Extract(ctx, shared.ExtractRequest{StorageURL: url, Key: tc.key, DestDir: dest}, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("extract: %v, want %v", err, tc.want)
			}
			dl, err := svc.Open(ctx, url, tc.key, 0, -1)
			if err == nil {
				_, err = io.Copy(io.Discard, dl)
				dl.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("download: %v, want %v", err, tc.want)
			}
			data, _ := os.ReadFile(filepath.Join(folder, tc.key))
			_, err = svc.Upload(ctx, url, "up-"+tc.key, bytes.NewReader(data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("upload: %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(folder, "up-"+tc.key)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused upload left %s behind", "up-"+tc.key)
			}
		})
	}
}

// TestRotation: a backup made with key A restores on a plugin holding B
// then A; new backups there go to B, which A alone cannot open.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	a, b := newKeys(t), newKeys(t)
	url := "file://" + filepath.Join(t.TempDir(), "backups")
	dir := markedDataDir(t)
	create(t, encryptedService(t, a), url, "a.zip", dir)
	rotated := encryptedService(t, keysOf(t, b, a))
	if _, err := rotated.Inspect(ctx, url, "a.zip"); err != nil {
		t.Fatalf("B then A cannot inspect A's backup: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "stage")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := rotated.Extract(ctx, shared.ExtractRequest{StorageURL: url, Key: "a.zip", DestDir: dest}, nil); err != nil {
		t.Fatalf("B then A cannot restore A's backup: %v", err)
	}
	create(t, rotated, url, "b.zip", dir)
	if _, err := encryptedService(t, a).Inspect(ctx, url, "b.zip"); !errors.Is(err, shared.ErrWrongKey) {
		t.Fatalf("a backup made after the rotation must be B's: %v", err)
	}
}

// TestPlainBackupsStayReadable: turning encryption on keeps older plain
// backups listed, downloadable and restorable as they are.
func TestPlainBackupsStayReadable(t *testing.T) {
	ctx := context.Background()
	url := "file://" + filepath.Join(t.TempDir(), "backups")
	dir := markedDataDir(t)
	plainSvc := plugin.NewService(storage.Open, nil)
	defer plainSvc.Close()
	create(t, plainSvc, url, "plain.zip", dir)
	svc := encryptedService(t, newKeys(t))
	list, err := svc.List(ctx, url)
	if err != nil || len(list) != 1 || list[0].Encrypted {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if got := readAll(t)(svc.Open(ctx, url, "plain.zip", 0, -1)); !bytes.HasPrefix(got, []byte("PK")) {
		t.Fatal("a plain backup no longer downloads as a zip")
	}
	if _, err := svc.Inspect(ctx, url, "plain.zip"); err != nil {
		t.Fatalf("inspect: %v", err)
	}
}

func plugintestWriteRandom(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyEncrypted: a backup encrypted at rest verifies (quick and
// deep) against its stored digest and its decrypted zip; damaged
// ciphertext is a problem the result names, a missing key an error.
func TestVerifyEncrypted(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	folder := filepath.Join(t.TempDir(), "backups")
	url := "file://" + folder
	dir := markedDataDir(t)
	plugintestWriteRandom(t, filepath.Join(dir, "storage", "big.bin"), 300<<10)
	svc := encryptedService(t, keys)
	info := create(t, svc, url, "a.zip", dir)
	stored, err := os.ReadFile(filepath.Join(folder, "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/2] ^= 0x40
	if err := os.WriteFile(filepath.Join(folder, "flipped.zip"), flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(b shared.Backups, key, mode string) (shared.VerifyResult, error) {
		return b.Verify(ctx, shared.VerifyRequest{StorageURL: url, Key: key, Mode: mode, ScratchDir: t.TempDir()}, nil)
	}
	for _, mode := range []string{shared.VerifyQuick, shared.VerifyDeep} {
		res, err := verify(svc, "a.zip", mode)
		if err != nil || res.Problem != "" || res.SHA256 != info.SHA256 || res.Entries == 0 {
			t.Fatalf("%s verify: %+v, %v; want ok with the stored digest %s", mode, res, err, info.SHA256)
		}
		if mode == shared.VerifyDeep {
			if got, err := os.ReadFile(filepath.Join(res.Extracted, "data.db")); err != nil || !bytes.Contains(got, []byte(marker)) {
				t.Fatalf("deep verify extracted data.db: %v", err)
			}
		}
	}
	if res, err := verify(svc, "flipped.zip", shared.VerifyQuick); err != nil || res.Problem == "" {
		t.Fatalf("flipped ciphertext: %+v, %v; want a problem", res, err)
	}
	if _, err := verify(encryptedService(t, nil), "a.zip", shared.VerifyQuick); !errors.Is(err, shared.ErrNoKey) {
		t.Fatalf("no key: %v, want ErrNoKey", err)
	}
}

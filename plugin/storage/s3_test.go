package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/plugintest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/plugin/storage/storagetest"
	"github.com/pocketbackup/pocketbackup/shared"
)

const mib = 1 << 20

// TestS3: the conformance suite over s3:// against a loopback S3 server,
// path-style, static credentials, a fresh bucket per subtest.
func TestS3(t *testing.T) {
	f := newFakeS3(t, false)
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, f.url(f.newBucket(t), "")) })
}

// TestS3Prefixed: the suite again, every subtest under its own prefix of one
// shared bucket, beside a key at the bucket's root that none may see.
func TestS3Prefixed(t *testing.T) {
	f := newFakeS3(t, false)
	bucket := f.newBucket(t)
	root := open(t, f.url(bucket, ""))
	defer root.Close()
	putS3(t, root, "at-the-root.zip", []byte("not under any prefix"))
	var seq atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, f.url(bucket, fmt.Sprintf("apps/app%d/backups", seq.Add(1))))
	})
	if got := listKeys(t, root); !slices.Equal(got, []string{"at-the-root.zip"}) {
		t.Errorf("the bucket's root lists %q", got)
	}
}

// TestS3PrefixIsolates: stores on one bucket under different prefixes (one
// a string prefix of the other) see only their own keys, stripped of the
// prefix; the bucket's root sees none of them.
func TestS3PrefixIsolates(t *testing.T) {
	f := newFakeS3(t, false)
	bucket := f.newBucket(t)
	app1 := open(t, f.url(bucket, "app1"))
	defer app1.Close()
	app10 := open(t, f.url(bucket, "app10/")) // the trailing '/' changes nothing
	defer app10.Close()
	root := open(t, f.url(bucket, ""))
	defer root.Close()

	putS3(t, app1, "a.zip", []byte("one"))
	putS3(t, app1, "shared-name.zip", []byte("app1's"))
	putS3(t, app10, "b.zip", []byte("ten"))
	putS3(t, app10, "shared-name.zip", []byte("app10's"))
	putS3(t, root, "root.zip", []byte("root"))

	for _, tc := range []struct {
		name  string
		store storage.Store
		want  []string
	}{
		{"app1", app1, []string{"a.zip", "shared-name.zip"}},
		{"app10", app10, []string{"b.zip", "shared-name.zip"}},
		{"root", root, []string{"root.zip"}},
	} {
		if got := listKeys(t, tc.store); !slices.Equal(got, tc.want) {
			t.Errorf("%s lists %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := readAll(t, app1, "shared-name.zip"); string(got) != "app1's" {
		t.Errorf("app1 reads %q", got)
	}
	if got := readAll(t, app10, "shared-name.zip"); string(got) != "app10's" {
		t.Errorf("app10 reads %q", got)
	}
	// In the bucket the keys carry their prefix.
	for _, key := range []string{"app1/a.zip", "app10/b.zip", "root.zip"} {
		if _, err := f.backend.HeadObject(bucket, key); err != nil {
			t.Errorf("bucket lacks %q: %v", key, err)
		}
	}
	// Another prefix's keys are not reachable.
	for _, key := range []string{"b.zip", "root.zip"} {
		if _, err := app1.Stat(t.Context(), key); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("app1 Stat(%q): %v, want ErrNotFound", key, err)
		}
		if err := app1.Delete(t.Context(), key); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("app1 Delete(%q): %v, want ErrNotFound", key, err)
		}
	}
	if err := app1.Delete(t.Context(), "shared-name.zip"); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, app10); !slices.Equal(got, []string{"b.zip", "shared-name.zip"}) {
		t.Errorf("after app1's Delete, app10 lists %q", got)
	}
}

// TestS3Multipart: an object over the 16 MiB part size goes up as a
// multipart upload in 16 MiB parts and reads back whole and in ranges.
func TestS3Multipart(t *testing.T) {
	f := newFakeS3(t, false)
	bucket := f.newBucket(t)
	s := open(t, f.url(bucket, "p"))
	defer s.Close()
	const size = 36*mib + 12345
	w, err := s.NewWriter(t.Context(), "big.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	src := rand.NewChaCha8([32]byte{7})
	h := sha256.New()
	if n, err := io.CopyBuffer(w, io.TeeReader(io.LimitReader(src, size), h), make([]byte, mib)); err != nil || n != size {
		t.Fatalf("write: %d bytes, %v", n, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got, want := f.parts(), []int64{16 * mib, 16 * mib, size - 32*mib}; !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("uploaded parts of %v bytes, want %v", got, want)
	}
	o, err := s.Stat(t.Context(), "big.zip")
	if err != nil || o.Size != size {
		t.Fatalf("Stat = %+v, %v; want %d bytes", o, err, size)
	}
	r, err := s.NewRangeReader(t.Context(), "big.zip", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	h2 := sha256.New()
	n, err := io.Copy(h2, r)
	r.Close()
	if err != nil || n != size || !bytes.Equal(h2.Sum(nil), h.Sum(nil)) {
		t.Errorf("read back %d bytes (%v), sha256 match %v", n, err, bytes.Equal(h2.Sum(nil), h.Sum(nil)))
	}
	// A range across the first part boundary.
	mid, err := readRange(t, s, "big.zip", 16*mib-10, 20)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 16*mib+10)
	io.ReadFull(rand.NewChaCha8([32]byte{7}), want)
	if !bytes.Equal(mid, want[16*mib-10:]) {
		t.Errorf("range across parts differs")
	}
	if pending := f.pendingUploads(t, bucket); len(pending) != 0 {
		t.Errorf("pending uploads after Commit: %q", pending)
	}
	// A non-AWS endpoint gets checksums only when required: none here.
	if n := f.checksummed.Load(); n != 0 {
		t.Errorf("%d requests carried checksums, want none for a non-AWS endpoint", n)
	}
}

// TestS3MultipartNoReplace: a multipart upload does not replace an
// existing object even where the service ignores If-None-Match on its
// completion (gofakes3 honours it only on a single PUT): the commit checks
// the key first, refuses with ErrExists, aborts the upload, and the stored
// object stays as it was.
func TestS3MultipartNoReplace(t *testing.T) {
	f := newFakeS3(t, false)
	bucket := f.newBucket(t)
	s := open(t, f.url(bucket, ""))
	defer s.Close()
	putS3(t, s, "taken.zip", []byte("the first one"))
	w, err := s.NewWriter(t.Context(), "taken.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := io.CopyBuffer(w, io.LimitReader(rand.NewChaCha8([32]byte{9}), 16*mib+1), make([]byte, mib)); err != nil {
		t.Fatalf("write: %v", err)
	}
	wantIs(t, w.Commit(), shared.ErrExists, "Commit over taken.zip")
	if got := readAll(t, s, "taken.zip"); string(got) != "the first one" {
		t.Errorf("taken.zip holds %d bytes after the refused commit, want the first object", len(got))
	}
	if pending := f.pendingUploads(t, bucket); len(pending) != 0 {
		t.Errorf("pending uploads after the refused Commit: %q", pending)
	}
}

// TestS3CancelledUploadLeavesNothing: a multipart upload stopped after its
// first part reached the server leaves no object and no pending upload
// (whose parts S3 would keep, and bill, until aborted).
func TestS3CancelledUploadLeavesNothing(t *testing.T) {
	for name, stop := range map[string]func(w storage.Writer, cancel context.CancelFunc) error{
		"Abort": func(w storage.Writer, _ context.CancelFunc) error { return w.Abort() },
		"CancelThenAbort": func(w storage.Writer, cancel context.CancelFunc) error {
			cancel()
			return w.Abort()
		},
		"CancelThenCommit": func(w storage.Writer, cancel context.CancelFunc) error {
			cancel()
			if err := w.Commit(); !errors.Is(err, context.Canceled) {
				return errors.New("Commit after cancel: want an error wrapping context.Canceled, got " + errString(err))
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeS3(t, false)
			bucket := f.newBucket(t)
			s := open(t, f.url(bucket, "pre"))
			defer s.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := s.NewWriter(ctx, "cut.zip")
			if err != nil {
				t.Fatal(err)
			}
			chunk := bytes.Repeat([]byte("c"), mib)
			for range 20 { // past the first 16 MiB part
				if _, err := w.Write(chunk); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			f.waitPart(t)
			if err := stop(w, cancel); err != nil {
				t.Fatal(err)
			}
			if keys := listKeys(t, s); len(keys) != 0 {
				t.Errorf("List = %q, want nothing", keys)
			}
			if _, err := s.Stat(t.Context(), "cut.zip"); !errors.Is(err, shared.ErrNotFound) {
				t.Errorf("Stat: %v, want ErrNotFound", err)
			}
			if pending := f.pendingUploads(t, bucket); len(pending) != 0 {
				t.Errorf("pending multipart uploads left: %q", pending)
			}
		})
	}
}

// TestS3MissingKeys: absent keys are shared.ErrNotFound for every method.
func TestS3MissingKeys(t *testing.T) {
	f := newFakeS3(t, false)
	s := open(t, f.url(f.newBucket(t), ""))
	defer s.Close()
	_, err := s.Stat(t.Context(), "absent.zip")
	wantIs(t, err, shared.ErrNotFound, "Stat")
	_, err = s.NewRangeReader(t.Context(), "absent.zip", 0, -1)
	wantIs(t, err, shared.ErrNotFound, "NewRangeReader")
	_, err = s.NewRangeReader(t.Context(), "absent.zip", 100, 10)
	wantIs(t, err, shared.ErrNotFound, "NewRangeReader(100, 10)")
	wantIs(t, s.Delete(t.Context(), "absent.zip"), shared.ErrNotFound, "Delete")
}

// TestS3CredentialsNeverInErrors: with a server that checks signatures,
// the right credentials work; a wrong access key or a wrong secret fails
// every operation, and no error shows the access key or the secret, even
// where the server repeats the key in its message.
func TestS3CredentialsNeverInErrors(t *testing.T) {
	f := newFakeS3(t, true)
	bucket := f.newBucket(t)

	good := open(t, f.url(bucket, "creds"))
	defer good.Close()
	putS3(t, good, "x.zip", []byte("signed right"))
	if got := listKeys(t, good); !slices.Equal(got, []string{"x.zip"}) {
		t.Fatalf("with the right credentials List = %q", got)
	}

	for name, cfg := range map[string]shared.S3Config{
		"WrongAccessKey": withCreds(f.config(bucket, "creds"), "AKIAWRONGKEY00000001", testSecret),
		"WrongSecret":    withCreds(f.config(bucket, "creds"), testAccessKey, "wrong/Secret+Key=ABCDEFGHIJ0001"),
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t, shared.S3URL(cfg))
			defer s.Close()
			var errs []error
			_, err := s.List(t.Context())
			errs = append(errs, err)
			_, err = s.Stat(t.Context(), "x.zip")
			errs = append(errs, err)
			_, err = s.NewRangeReader(t.Context(), "x.zip", 0, -1)
			errs = append(errs, err)
			errs = append(errs, s.Delete(t.Context(), "x.zip"))
			w, err := s.NewWriter(t.Context(), "y.zip")
			if err != nil {
				t.Fatal(err)
			}
			_, werr := w.Write([]byte("data"))
			errs = append(errs, werr, w.Commit())
			for i, err := range errs {
				if i == 4 { // a Write may succeed: the request goes out at Commit
					continue
				}
				if err == nil {
					t.Errorf("operation %d succeeded with wrong credentials", i)
					continue
				}
				t.Logf("operation %d: %v", i, err)
				for _, secret := range []string{cfg.AccessKey, cfg.Secret, testSecret} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("operation %d: error %q reveals %q", i, err, secret)
					}
				}
			}
			if got := readAll(t, good, "x.zip"); string(got) != "signed right" {
				t.Errorf("object changed to %q", got)
			}
		})
	}
}

func withCreds(cfg shared.S3Config, accessKey, secret string) shared.S3Config {
	cfg.AccessKey, cfg.Secret = accessKey, secret
	return cfg
}

func putS3(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	w, err := s.NewWriter(t.Context(), key)
	if err != nil {
		t.Fatalf("NewWriter(%q): %v", key, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

func listKeys(t *testing.T, s storage.Store) []string {
	t.Helper()
	objs, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}

func readRange(t *testing.T, s storage.Store, key string, offset, length int64) ([]byte, error) {
	t.Helper()
	r, err := s.NewRangeReader(t.Context(), key, offset, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func readAll(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	data, err := readRange(t, s, key, 0, -1)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

func wantIs(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: error %v, want one wrapping %q", what, err, kind)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func sortedCopy(s []int64) []int64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestS3Backups: the plugin's whole Backups service (create, upload,
// download, restore from range reads…) over s3://, in-process.
func TestS3Backups(t *testing.T) {
	f := newFakeS3(t, false)
	plugintest.Run(t, func(t *testing.T) plugintest.Target {
		svc := plugin.NewService(storage.Open, nil)
		t.Cleanup(func() { _ = svc.Close() })
		return plugintest.Target{Backups: svc, StorageURL: f.url(f.newBucket(t), "pb/backups")}
	})
}

// TestS3MultipartOneTime: an object stored by a multipart upload that
// spans a second boundary has one modification time for Stat and List, as
// on S3 (the upload's start). The fake's own two clocks disagreed here.
func TestS3MultipartOneTime(t *testing.T) {
	f := newFakeS3(t, false)
	s := open(t, f.url(f.newBucket(t), ""))
	defer s.Close()
	w, err := s.NewWriter(t.Context(), "slow.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	data := io.LimitReader(rand.NewChaCha8([32]byte{3}), 16*mib+1)
	if _, err := io.CopyN(w, data, 16*mib); err != nil {
		t.Fatalf("write: %v", err)
	}
	f.waitPart(t)
	time.Sleep(1100 * time.Millisecond) // the commit lands in a later second
	if _, err := io.Copy(w, data); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	o, err := s.Stat(t.Context(), "slow.zip")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(t.Context())
	if err != nil || len(objs) != 1 {
		t.Fatalf("List = %v, %v", objs, err)
	}
	if !o.Modified.Equal(objs[0].Modified) {
		t.Errorf("Stat modified %v, List modified %v", o.Modified, objs[0].Modified)
	}
}

package storage_test

import (
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/plugintest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

// TestVerifyEveryStore: digests and verification through the plugin
// service over every storage the README names, against the real protocol
// servers: a created or uploaded backup lists its digest, quick and deep
// verify pass on it, a byte changed in a stored backup fails quick verify
// naming the entry (and a restore's extract), a backup without digest is
// first seen and gets one.
func TestVerifyEveryStore(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string { return "file://" + t.TempDir() },
		"s3": func(t *testing.T) string {
			f := newFakeS3(t, false)
			return f.url(f.newBucket(t), "app1")
		},
		"gcs": func(t *testing.T) string {
			f := sharedFakeGCS(t)
			return "gs://" + f.newBucket(t)
		},
		"azure": func(t *testing.T) string {
			a := sharedAzurite(t)
			return a.url(a.newContainer(t))
		},
	}
	for name, newURL := range stores {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			svc := plugin.NewService(storage.Open, nil)
			t.Cleanup(func() { _ = svc.Close() })
			plugintest.RunVerify(t, plugintest.Target{Backups: svc, StorageURL: url},
				plugintest.RawStore(func(t *testing.T) storage.Store { return open(t, url) }))
		})
	}
}

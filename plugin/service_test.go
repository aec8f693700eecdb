package plugin_test

import (
	"context"
	"path/filepath"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/plugintest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// storages are the storage URLs every implementation is checked over.
var storages = map[string]func(t *testing.T) string{
	// Each target has its own service, so mem:// is a fresh bucket.
	"mem":  func(t *testing.T) string { return "mem://" },
	"file": func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "backups") },
}

// TestServiceConformance runs the suite against the service in-process.
func TestServiceConformance(t *testing.T) {
	for name, newURL := range storages {
		t.Run(name, func(t *testing.T) {
			plugintest.Run(t, func(t *testing.T) plugintest.Target {
				svc := plugin.NewService(storage.Open, nil)
				t.Cleanup(func() { _ = svc.Close() })
				return plugintest.Target{Backups: svc, StorageURL: newURL(t)}
			})
		})
	}
}

// TestGRPCConformance runs the same suite through the go-plugin gRPC glue,
// proving it is transparent (errors, streams, ranges, progress).
func TestGRPCConformance(t *testing.T) {
	for name, newURL := range storages {
		t.Run(name, func(t *testing.T) {
			plugintest.Run(t, func(t *testing.T) plugintest.Target {
				svc := plugin.NewService(storage.Open, nil)
				// Closing the client stops the server (go-plugin's
				// controller shutdown); stopping it too would race.
				client, _ := goplugin.TestPluginGRPCConn(t, false, shared.PluginMap(svc))
				t.Cleanup(func() {
					_ = client.Close()
					_ = svc.Close()
				})
				raw, err := client.Dispense(shared.PluginName)
				if err != nil {
					t.Fatal(err)
				}
				return plugintest.Target{Backups: raw.(shared.Backups), StorageURL: newURL(t)}
			})
		})
	}
}

// TestGRPCUploadCancelLeavesNothing cancels an upload midway through the
// glue: the plugin must discard it.
func TestGRPCUploadCancelLeavesNothing(t *testing.T) {
	svc := plugin.NewService(storage.Open, nil)
	client, _ := goplugin.TestPluginGRPCConn(t, false, shared.PluginMap(svc))
	defer client.Close()
	raw, err := client.Dispense(shared.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	b := raw.(shared.Backups)
	storageURL := "file://" + filepath.Join(t.TempDir(), "backups")
	ctx, cancel := context.WithCancel(context.Background())
	body := &cancelAfter{n: 3 << 20, cancel: cancel}
	if _, err := b.Upload(ctx, storageURL, "half.zip", body); err == nil {
		t.Fatal("cancelled upload succeeded")
	}
	list, err := b.List(context.Background(), storageURL)
	if err != nil || len(list) != 0 {
		t.Fatalf("after a cancelled upload storage holds %v (%v)", list, err)
	}
}

// cancelAfter yields zip-looking bytes and cancels after n of them.
type cancelAfter struct {
	n, sent int64
	cancel  context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.sent >= c.n {
		c.cancel()
		return 0, context.Canceled
	}
	if c.sent == 0 && len(p) >= 4 {
		copy(p, "PK\x03\x04")
	}
	n := min(int64(len(p)), c.n-c.sent)
	c.sent += n
	return int(n), nil
}

// TestVerify runs the digest and verify checks against the service over
// file://, in process and through the gRPC glue. (mem:// lives only in the
// service's own store, out of reach of a raw writer; the cloud protocols
// run in plugin/storage's tests.)
func TestVerify(t *testing.T) {
	for _, viaGRPC := range []bool{false, true} {
		t.Run(map[bool]string{false: "service", true: "grpc"}[viaGRPC], func(t *testing.T) {
			svc := plugin.NewService(storage.Open, nil)
			t.Cleanup(func() { _ = svc.Close() })
			var b shared.Backups = svc
			if viaGRPC {
				client, _ := goplugin.TestPluginGRPCConn(t, false, shared.PluginMap(svc))
				t.Cleanup(func() { _ = client.Close() })
				raw, err := client.Dispense(shared.PluginName)
				if err != nil {
					t.Fatal(err)
				}
				b = raw.(shared.Backups)
			}
			url := "file://" + filepath.Join(t.TempDir(), "backups")
			plugintest.RunVerify(t, plugintest.Target{Backups: b, StorageURL: url}, plugintest.RawStore(func(t *testing.T) storage.Store {
				st, err := storage.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}))
		})
	}
}

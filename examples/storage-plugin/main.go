// Command storage-plugin is an example third-party backup plugin. It brings
// only a storage: a "manifest store" that keeps backups as plain files in
// one folder per month, indexed by a manifest.json that is replaced
// atomically on every change. Everything else (building, checking and
// restoring archives, the gRPC protocol, logging) is the stock plugin's,
// reused through plugin.Serve.
//
// It opens manifest:///absolute/dir URLs itself and hands any other URL to
// storage.Open, so it also serves file://, s3:// and the rest. See README.md.
package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Scheme is the URL scheme of the manifest store.
const Scheme = "manifest"

func main() {
	plugin.Serve(plugin.Config{Open: open, Name: "manifest-plugin"})
}

var _ storage.Opener = open

// open opens manifest:///abs/dir with the manifest store, anything else with
// storage.Open. Like storage.Open, its errors never repeat the URL.
func open(ctx context.Context, rawURL string) (storage.Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != Scheme {
		return storage.Open(ctx, rawURL)
	}
	if u.User != nil || u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" {
		return nil, fmt.Errorf("open %s://: want %s:///absolute/dir: %w", Scheme, Scheme, shared.ErrInvalid)
	}
	dir := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("open %s://: the directory must be an absolute path: %w", Scheme, shared.ErrInvalid)
	}
	return openStore(filepath.Clean(dir))
}

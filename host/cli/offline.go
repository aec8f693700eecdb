package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/shared"
)

// offlineFlags are the settings of the offline commands: the data
// directory and the plugin that does the work, as the app would use them.
type offlineFlags struct {
	e            env
	cmd          *cobra.Command
	On           bool
	Dir          string
	Storage      string
	Plugins      string
	Plugin       string
	PluginSHA256 string
	// KeyFile holds the age identities of encryption at rest, read for
	// each offline run (never a flag's value itself: it is a secret).
	KeyFile string
}

func (f *offlineFlags) add(cmd *cobra.Command, e env) {
	f.e, f.cmd = e, cmd
	fs := cmd.Flags()
	fs.BoolVar(&f.On, "offline", false, "work on a data directory no app is serving, without the API")
	fs.StringVar(&f.Dir, "dir", e.DataDir, "with --offline: the data directory [PB_DATA_DIR]")
	fs.StringVar(&f.Plugins, "plugins", e.PluginsDir, "with --offline: the folder holding the backup plugin [PB_PLUGINS_DIR]")
	fs.StringVar(&f.Plugin, "plugin", "", "with --offline: the plugin's file name in that folder (default: its only executable)")
	fs.StringVar(&f.PluginSHA256, "plugin-sha256", "", "with --offline: the plugin's expected SHA-256 [PB_PLUGIN_SHA256] (default: NAME.sha256)")
	fs.StringVar(&f.Storage, "storage", "", "with --offline: the backups storage URL [PB_BACKUPS_STORAGE] (default file://DIR/backups)")
	fs.StringVar(&f.KeyFile, "encryption-key-file", "", "with --offline: the app's age identities, for backups encrypted at rest [PB_BACKUPS_ENCRYPTION_KEY_FILE]")
}

// resolve applies the environment to the flags not given.
func (f *offlineFlags) resolve() {
	for name, p := range map[string]*string{"dir": &f.Dir, "plugins": &f.Plugins, "plugin-sha256": &f.PluginSHA256, "storage": &f.Storage, "encryption-key-file": &f.KeyFile} {
		if !f.cmd.Flags().Changed(name) {
			if v := f.e.get(map[string]string{"dir": "PB_DATA_DIR", "plugins": "PB_PLUGINS_DIR",
				"plugin-sha256": "PB_PLUGIN_SHA256", "storage": "PB_BACKUPS_STORAGE", "encryption-key-file": "PB_BACKUPS_ENCRYPTION_KEY_FILE"}[name]); v != "" {
				*p = v
			}
		}
	}
}

// storageURL is --storage, or the data directory's own backups folder.
func (f *offlineFlags) storageURL() (string, error) {
	if f.Storage != "" {
		return f.Storage, nil
	}
	dir, err := filepath.Abs(f.Dir)
	if err != nil {
		return "", err
	}
	return fileURL(filepath.Join(dir, "backups")), nil
}

// open starts the plugin on dataDir ("" for none) with a progress display.
func (f *offlineFlags) open(ctx context.Context, dataDir, scratch string, prog progress) (*host.Offline, error) {
	log := slog.New(slog.NewTextHandler(f.e.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	keys, err := readKeyFile(f.KeyFile)
	if err != nil {
		return nil, err
	}
	off, err := host.OpenOffline(ctx, host.OfflineConfig{
		DataDir: dataDir, PluginsDir: f.Plugins, PluginName: f.Plugin, PluginSHA256: f.PluginSHA256,
		Exclude: f.e.Exclude, ScratchDir: scratch, Logger: log, Progress: prog.Set, EncryptionKeys: keys,
	})
	if errors.Is(err, host.ErrDataDirInUse) {
		return nil, fmt.Errorf("%w: stop the app first, or use the command without --offline to go through the running app", err)
	}
	return off, err
}

// fileURL is the file:// storage URL of an absolute folder.
func fileURL(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

func runOfflineCreate(ctx context.Context, e env, o createOptions) error {
	f := &o.Offline
	f.resolve()
	if o.Output != "" && f.cmd.Flags().Changed("storage") {
		return usagef("give -o FILE or --storage URL, not both")
	}
	key := o.Name
	storageURL, out, tmp := "", "", ""
	if o.Output != "" {
		var err error
		if out, err = filepath.Abs(o.Output); err != nil {
			return err
		}
		if _, err := os.Stat(out); err == nil {
			return usagef("%s exists: remove it or choose another file with -o", o.Output)
		}
		// Built in a hidden folder beside FILE, then renamed into place:
		// FILE appears whole or not at all.
		if tmp, err = os.MkdirTemp(filepath.Dir(out), ".pocketbackup-create-"); err != nil {
			return fmt.Errorf("offline create: %w", err)
		}
		defer os.RemoveAll(tmp)
		storageURL = fileURL(tmp)
		if key == "" {
			if key = filepath.Base(out); !shared.ValidKey(key) {
				key = "backup.zip"
			}
		}
	} else {
		var err error
		if storageURL, err = f.storageURL(); err != nil {
			return err
		}
		if key == "" {
			key = autoName(time.Now())
		}
	}
	start := time.Now()
	prog := newProgress(e, "create "+key)
	off, err := f.open(ctx, f.Dir, "", prog)
	if err != nil {
		return err
	}
	info, err := off.Create(ctx, storageURL, key)
	err = errors.Join(err, off.Close())
	prog.Done(err == nil)
	if err != nil {
		return err
	}
	res := opResult{Kind: "create", Key: key, Status: "done", Size: info.Size, Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
	where := shared.Redact(storageURL)
	if out != "" {
		if err := os.Rename(filepath.Join(tmp, key), out); err != nil {
			return fmt.Errorf("offline create: %w", err)
		}
		res.Output, where = out, out
	}
	return printResult(e, o.JSON, res, fmt.Sprintf("Backup of %s written to %s (%s, key %s).", f.Dir, where, humanBytes(info.Size), key))
}

// localOrKey names a backup given as a local zip FILE or a KEY in the
// storage: the storage URL and key to use, and the folder it sits in for
// a file.
func localOrKey(f *offlineFlags, arg string) (storageURL, key, dir string, err error) {
	if st, serr := os.Stat(arg); serr == nil && st.Mode().IsRegular() {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return "", "", "", err
		}
		key = filepath.Base(abs)
		if !shared.ValidKey(key) {
			return "", "", "", usagef("%s: the file name cannot name a backup (no leading dot, no .attrs): rename it", arg)
		}
		return fileURL(filepath.Dir(abs)), key, filepath.Dir(abs), nil
	}
	if !shared.ValidKey(arg) || filepath.Base(arg) != arg {
		return "", "", "", usagef("%s: no such file", arg)
	}
	storageURL, err = f.storageURL()
	return storageURL, arg, "", err
}

func runOfflineRestore(ctx context.Context, e env, o restoreOptions) error {
	f := &o.Offline
	f.resolve()
	storageURL, key, _, err := localOrKey(f, o.Key)
	if err != nil {
		return err
	}
	start := time.Now()
	prog := newProgress(e, "restore "+key)
	off, err := f.open(ctx, f.Dir, "", prog)
	if err != nil {
		return err
	}
	err = errors.Join(off.Restore(ctx, storageURL, key), off.Close())
	prog.Done(err == nil)
	if err != nil {
		return fmt.Errorf("%w (the data directory %s was left as it was)", err, f.Dir)
	}
	res := opResult{Kind: "restore", Key: key, Status: "done", Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
	return printResult(e, o.JSON, res, fmt.Sprintf("Restored %s into %s: start the app on it.", key, f.Dir))
}

func runOfflineVerify(ctx context.Context, e env, o verifyOptions) error {
	f := &o.Offline
	f.resolve()
	st, err := os.Stat(o.Key)
	if err != nil || !st.Mode().IsRegular() {
		return usagef("verify --offline takes a local zip FILE: %s is not one", o.Key)
	}
	storageURL, key, dir, err := localOrKey(f, o.Key)
	if err != nil {
		return err
	}
	start := time.Now()
	prog := newProgress(e, "verify "+key)
	off, err := f.open(ctx, "", dir, prog)
	if err != nil {
		return err
	}
	sum, err := off.Verify(ctx, storageURL, key, o.Deep, dir)
	err = errors.Join(err, off.Close())
	prog.Done(err == nil)
	res := opResult{Kind: "verify", Key: key, Status: "done", Size: st.Size(), Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
	if err != nil {
		res.Status, res.Error = "failed", err.Error()
		if o.JSON {
			_ = printJSON(e.Stdout, res)
		}
		return fmt.Errorf("%s is not a good backup: %w", o.Key, err)
	}
	what := "quick: the zip's directory is sane and it holds data.db"
	if o.Deep {
		what = "deep: every entry extracted with its checksum, and the databases pass quick_check"
	}
	return printResult(e, o.JSON, res, fmt.Sprintf("%s: ok (%d entries, %s uncompressed; %s).", o.Key, sum.Entries, humanBytes(sum.TotalBytes), what))
}

package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/internal/hclogslog"
	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/restore"
	"github.com/pocketbackup/pocketbackup/shared"
)

// OfflineConfig configures an Offline: the plugin as in Config, and the
// data directory of an app that is not running.
type OfflineConfig struct {
	// DataDir is the data directory (pb_data) to back up or restore into;
	// empty for Verify only. It is created for a restore when missing.
	DataDir string
	// PluginsDir, PluginName, PluginSHA256 and PluginEnv: as in Config.
	PluginsDir   string
	PluginName   string
	PluginSHA256 string
	PluginEnv    []string
	// Exclude: as in Config.
	Exclude []string
	// ScratchDir holds the plugin's socket naming and Verify's extraction
	// when DataDir is empty.
	ScratchDir string
	// EncryptionKeys: as in Config (an offline create stores its backup
	// encrypted; restore and verify decrypt).
	EncryptionKeys string
	// Logger receives the host's and the plugin's logs.
	Logger *slog.Logger
	// CheckTimeout and CheckMemory: as in Config.
	CheckTimeout time.Duration
	CheckMemory  int64
	// Progress, when set, receives the running operation's bytes.
	Progress func(done, total int64)
}

// Offline runs creates, restores and verifies without an app: the same
// snapshot, plugin archive, staging, database check, journal and swap as
// the app's own operations, for a data directory no app serves (disaster
// recovery on a fresh machine, a backup of a stopped app). While it is
// open it holds the data directory's lock: an app cannot start on it, and
// it refuses (ErrDataDirInUse) a directory an app is serving.
type Offline struct {
	h *Host
}

// OpenOffline takes the data directory's lock, settles a restore an
// earlier process left unfinished, and starts the plugin. Close it.
func OpenOffline(ctx context.Context, cfg OfflineConfig) (_ *Offline, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PluginEnv == nil {
		cfg.PluginEnv = DefaultPluginEnv()
	}
	unlock := func() {}
	socketKey := cfg.ScratchDir
	if cfg.DataDir != "" {
		if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("offline: data dir: %w", err)
		}
		socketKey = cfg.DataDir
		if unlock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("offline: %w", err)
		}
		defer func() {
			if err != nil {
				unlock()
			}
		}()
		if err := recoverLocked(ctx, cfg.DataDir, cfg.Logger); err != nil {
			return nil, fmt.Errorf("offline: %w", err)
		}
		trash, err := resetTempDir(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("offline: %w", err)
		}
		if trash != "" {
			if err := os.RemoveAll(trash); err != nil {
				return nil, fmt.Errorf("offline: remove leftovers: %w", err)
			}
		}
	}
	keys, err := parseEncryptionKeys(cfg.EncryptionKeys)
	if err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	sup, err := newSupervisor(socketKey, cfg.PluginsDir, cfg.PluginName, cfg.PluginSHA256, cfg.PluginEnv, hclogslog.New(cfg.Logger).Named("plugin"))
	if err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	sup.extraEnv = []string{envEncryptionKeys + "=" + keys.Text()}
	if _, err := sup.Backups(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("offline: %w", err), sup.Close())
	}
	ops := newOperations(time.Now)
	ops.onProgress = cfg.Progress
	hctx, cancel := context.WithCancel(context.Background())
	h := &Host{
		cfg: Config{DataDir: cfg.DataDir, PluginsDir: cfg.PluginsDir, Exclude: cfg.Exclude, Logger: cfg.Logger,
			CheckTimeout: cfg.CheckTimeout, CheckMemory: cfg.CheckMemory},
		log: cfg.Logger, plugins: sup, ops: ops, ctx: hctx, cancel: cancel, unlock: sync.OnceFunc(unlock),
	}
	return &Offline{h: h}, nil
}

// Close stops the plugin and releases the data directory.
func (o *Offline) Close() error {
	o.h.cancel()
	defer o.h.unlock()
	return o.h.plugins.Close()
}

// Create archives the data directory into storageURL under key, as the
// app's create does, and returns what was stored.
func (o *Offline) Create(ctx context.Context, storageURL, key string) (shared.BackupInfo, error) {
	if o.h.cfg.DataDir == "" {
		return shared.BackupInfo{}, errors.New("offline create: no data directory")
	}
	if !shared.ValidKey(key) {
		return shared.BackupInfo{}, fmt.Errorf("offline create: %q: %w", key, shared.ErrInvalid)
	}
	if _, err := os.Stat(filepath.Join(o.h.cfg.DataDir, "data.db")); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("offline create: %s has no data.db: is it a data directory?", o.h.cfg.DataDir)
	}
	if err := o.h.ops.begin(KindCreate, key); err != nil {
		return shared.BackupInfo{}, err
	}
	defer o.h.ops.finish("")
	if err := o.h.create(ctx, storageURL, key); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("offline create: %w", err)
	}
	var info shared.BackupInfo
	err := o.h.withPlugin(ctx, func(b shared.Backups) (err error) {
		info, err = b.Stat(ctx, storageURL, key)
		return err
	})
	return info, err
}

// Restore replaces the data directory's contents with backup key of
// storageURL, as the app's restore does: extract into staging, check the
// databases in a child process (RunChecker), journal, swap, and verify the
// result, putting the old data back when it fails. The previous data is
// deleted at the end.
func (o *Offline) Restore(ctx context.Context, storageURL, key string) error {
	dataDir := o.h.cfg.DataDir
	if dataDir == "" {
		return errors.New("offline restore: no data directory")
	}
	if err := o.h.ops.begin(KindRestore, key); err != nil {
		return err
	}
	defer o.h.ops.finish("")
	var summary shared.ArchiveSummary
	err := o.h.withPlugin(ctx, func(b shared.Backups) (err error) {
		summary, err = b.Inspect(ctx, storageURL, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("offline restore: %w", err)
	}
	if !summary.HasDataDB {
		return fmt.Errorf("offline restore: the backup has no data.db: %w", shared.ErrInvalid)
	}
	workDir, err := os.MkdirTemp(filepath.Join(dataDir, tempDirName), "restore-")
	if err != nil {
		return fmt.Errorf("offline restore: %w", err)
	}
	defer os.RemoveAll(workDir)
	staged := filepath.Join(workDir, "staged")
	checked, err := o.h.stage(ctx, storageURL, key, staged)
	if err != nil {
		return fmt.Errorf("offline restore: %w", err)
	}
	j, err := restore.PrepareChecked(stateDir(dataDir), dataDir, staged, filepath.Join(workDir, "old"), key, restoreKeep(o.h.cfg.Exclude), checked)
	if err == nil {
		err = restore.Swap(j, nil)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("offline restore: swap: %w", err), restore.Abandon(stateDir(dataDir)))
	}
	// What an app's next start does: verify, finish or roll back.
	if err := recoverLocked(ctx, dataDir, o.h.log); err != nil {
		return fmt.Errorf("offline restore: %w", err)
	}
	out, err := loadOutcome(dataDir)
	if err != nil {
		return fmt.Errorf("offline restore: %w", err)
	}
	if out == nil || out.Kind != KindRestore || !out.OK {
		msg := "no outcome recorded"
		if out != nil {
			msg = out.Error
		}
		return fmt.Errorf("offline restore: %s", msg)
	}
	// The old data went to the scratch folder; it is not needed any more.
	if trash, err := resetTempDir(dataDir); err == nil && trash != "" {
		_ = os.RemoveAll(trash)
	}
	return nil
}

// Verify checks backup key of storageURL: its central directory and entry
// names, and that it holds data.db; deep also extracts every entry
// (checking each one's CRC-32) into scratch space and runs PRAGMA
// quick_check on its databases. The scratch space is removed.
func (o *Offline) Verify(ctx context.Context, storageURL, key string, deep bool, scratch string) (shared.ArchiveSummary, error) {
	var summary shared.ArchiveSummary
	err := o.h.withPlugin(ctx, func(b shared.Backups) (err error) {
		summary, err = b.Inspect(ctx, storageURL, key)
		return err
	})
	if err != nil {
		return summary, fmt.Errorf("verify: %w", err)
	}
	if !summary.HasDataDB {
		return summary, fmt.Errorf("verify: the backup has no data.db: %w", shared.ErrInvalid)
	}
	if !deep {
		return summary, nil
	}
	dir, err := os.MkdirTemp(scratch, ".pocketbackup-verify-")
	if err != nil {
		return summary, fmt.Errorf("verify: %w", err)
	}
	defer os.RemoveAll(dir)
	b, err := o.h.backups(ctx)
	if err != nil {
		return summary, err
	}
	err = b.Extract(ctx, shared.ExtractRequest{StorageURL: storageURL, Key: key, DestDir: dir},
		func(p shared.Progress) { o.h.ops.progress(p.Done, p.Total) })
	if err != nil {
		return summary, fmt.Errorf("verify: extract: %w", err)
	}
	if _, err := sqlitesnap.VerifyInChild(ctx, dir, o.h.checkerLimits(dir)); err != nil {
		return summary, fmt.Errorf("verify: databases: %w", err)
	}
	return summary, nil
}

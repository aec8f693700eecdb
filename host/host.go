package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/cron"
	"github.com/pocketbackup/pocketbackup/host/internal/hclogslog"
	"github.com/pocketbackup/pocketbackup/host/metrics"
	"github.com/pocketbackup/pocketbackup/host/notify"
	"github.com/pocketbackup/pocketbackup/host/webui"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/shared"
)

// DefaultExcludes are the data-directory entries never archived.
var DefaultExcludes = []string{"backups", ".pb_temp_to_delete", ".autocert_cache", "lost+found", ".notify", stateDirName}

// tempDirName is the data directory's scratch folder, emptied at start (see
// resetTempDir).
const tempDirName = ".pb_temp_to_delete"

// Config configures a Host.
type Config struct {
	// DataDir is the app's data directory (pb_data).
	DataDir string
	// PluginsDir holds the plugin binary and its "<name>.sha256".
	PluginsDir string
	// PluginName picks the binary in PluginsDir; empty means the only one.
	PluginName string
	// PluginSHA256 is the expected checksum in hex; empty means read it
	// from "<binary>.sha256".
	PluginSHA256 string
	// PluginEnv names the environment variables the plugin process gets
	// from the host's environment; nil means DefaultPluginEnv(). A name
	// ending in '*' stands for a prefix ("MYCLOUD_*"). The plugin sees
	// nothing else of the host's environment (not its secrets, such as
	// PB_SUPERUSER_PASSWORD): extend the list with
	// append(host.DefaultPluginEnv(), "NAME"). The values are read from
	// the host's environment each time the plugin is launched.
	PluginEnv []string
	// StorageURL names the backups storage; default file://<DataDir>/backups.
	StorageURL string
	// Exclude lists more data-directory paths (relative, '/') to leave out
	// of backups. A restore leaves a top-level entry named here ("cache")
	// as it is: kept, never replaced by the backup's copy. A nested path
	// ("storage/thumbs") is only left out of backups: a restore replaces
	// its top-level entry ("storage") wholly with the backup's, so the
	// current "storage/thumbs" goes with the old data, which is deleted
	// after the restart. Exclude the top-level entry to keep it.
	Exclude []string
	// Auth authenticates requests; required.
	Auth *auth.Service
	// Logger receives the host's and the plugin's logs (the plugin's
	// with the attribute name=plugin.…); nil discards them.
	Logger *slog.Logger
	// Shutdown stops the app before a restore swaps its data in: stop
	// serving and close every database and file in DataDir, then return.
	// Restores are refused while it is nil.
	Shutdown func(ctx context.Context) error
	// Restart replaces the process after a restore; ExecSelf when nil. The
	// new process must call Recover before opening anything in DataDir.
	Restart func() error
	// RestartFailed is told when Restart returns an error: the process can
	// no longer serve, and the app should exit non-zero so that a
	// supervisor starts it again (the next start settles the data
	// directory). A Handoff's RestartFailed does this. The host itself
	// never exits the process: when nil, it logs the error and the process
	// stays stopped.
	RestartFailed func(error)
	// Settings persists the settings API's backups section (schedule, S3);
	// nil keeps them in memory only.
	Settings SettingsStore
	// S3Prefix is the key prefix inside an S3 bucket, so that several apps
	// can share one bucket.
	S3Prefix string
	// Clock drives the backup schedule; the real clock when nil.
	Clock cron.Clock
	// StorageCheckTimeout bounds the start-up check of the backups
	// storage (one listing); DefaultStorageCheckTimeout when 0.
	StorageCheckTimeout time.Duration
	// CheckTimeout bounds the child process that checks a restore's
	// databases (PRAGMA quick_check) before the swap: past it the child is
	// killed and the restore refused. Zero means a minute plus a second
	// per 8 MiB of databases.
	CheckTimeout time.Duration
	// CheckMemory bounds that child's memory, in bytes (on Linux a hard
	// limit on its address space, beyond what it had mapped at start): a
	// check that needs more fails and the restore is refused. Zero means
	// 512 MiB.
	CheckMemory int64
	// WebUIPath, when set, serves the backups page (package host/webui)
	// below this path, which starts and ends with "/" (testhost: "/_/").
	// The page's files are public; its API calls carry the token.
	WebUIPath string
	// MetricsAddr, when set, is a second listen address ("127.0.0.1:9090")
	// where GET /metrics is served without authentication, for a scraper
	// inside a private network. On the app's own address /metrics always
	// needs a superuser's token.
	MetricsAddr string
	// SuperuserEmails lists the superusers' addresses, for e-mail alerts
	// sent "to all superusers"; such alerts fail while it is nil.
	SuperuserEmails func(ctx context.Context) ([]string, error)
	// EncryptionKeys turns encryption at rest on: the text of an age keys
	// file, one identity ("AGE-SECRET-KEY-1…") a line, "#" comments and
	// blank lines ignored, newest first. New backups are encrypted to the
	// first identity; older ones decrypt with any (rotation: put the new
	// key first, keep the old ones after it). The S3 secret in the
	// settings is sealed with it too. Empty: off. It is handed to the
	// plugin process at its start and never stored, logged or returned.
	EncryptionKeys string
}

// DefaultStorageCheckTimeout is Config.StorageCheckTimeout's default. It
// is above the plugin's own deadline for a storage call, so that a store
// that does not answer is normally reported with its cause.
const DefaultStorageCheckTimeout = 30 * time.Second

// Host serves the Backups API through the plugin.
type Host struct {
	cfg     Config
	log     *slog.Logger
	plugins *supervisor
	ops     *operations

	// ctx lives as long as the Host: background operations run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cron *cron.Scheduler
	// clock is cfg.Clock or the real one.
	clock cron.Clock

	settingsMu sync.RWMutex
	settings   Settings
	// keys seal the S3 secret in the saved settings; nil: encryption off.
	keys *atrest.Keys

	// verified holds each backup's last verification.
	verified *verifications
	// webui serves the backups page below cfg.WebUIPath; nil when unset.
	webui http.Handler

	// beforeArchive, when set (tests only), runs after the snapshot and
	// before the plugin archives: it lets a test hold an operation open.
	beforeArchive func()
	// uploadReserved, when set (tests only), runs once an upload holds its
	// key, before its bytes go to the plugin.
	uploadReserved func()
	// stagedCheckStarted, when set (tests only), runs as a restore's
	// check of its staged databases starts, saying whether the extraction
	// was still running.
	stagedCheckStarted func(duringExtraction bool)
	// freeSpace reads a filesystem's free space (statfsSpace; tests
	// replace it to play a full disk).
	freeSpace func(path string) (fsSpace, error)

	// unlock releases the data directory's lock (see lockDataDir), once.
	unlock func()

	metrics       *metrics.Metrics
	notifier      *notify.Notifier
	fresh         freshness
	freshWake     chan struct{} // wakes watchFreshness; buffered, 1
	metricsServer *http.Server  // on Config.MetricsAddr; nil without one
	metricsAddr   string        // the address it listens on
}

// New checks cfg, verifies the plugin binary and starts the plugin.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Auth == nil {
		return nil, errors.New("host: Config.Auth is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("host: data dir: %w", err)
	}
	cfg.DataDir = dataDir
	var page http.Handler
	if cfg.WebUIPath != "" {
		if page, err = webui.Handler(cfg.WebUIPath); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	if cfg.StorageURL == "" {
		cfg.StorageURL = "file://" + filepath.Join(dataDir, "backups")
	}
	// Held while the app runs, so that offline commands refuse to touch
	// the data directory under it.
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	unlock = sync.OnceFunc(unlock)
	trash, err := resetTempDir(dataDir)
	if err != nil {
		unlock()
		return nil, err
	}
	if cfg.PluginEnv == nil {
		cfg.PluginEnv = DefaultPluginEnv()
	}
	keys, err := parseEncryptionKeys(cfg.EncryptionKeys)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("host: %w", err)
	}
	sup, err := newSupervisor(dataDir, cfg.PluginsDir, cfg.PluginName, cfg.PluginSHA256, cfg.PluginEnv, hclogslog.New(cfg.Logger).Named("plugin"))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("host: %w", err)
	}
	h := &Host{cfg: cfg, log: cfg.Logger, plugins: sup, freeSpace: statfsSpace}
	h.metrics = metrics.New(metrics.Probe{Running: h.runningForMetrics, FreeBytes: h.volumesFree, Logins: cfg.Auth.LoginStats})
	sup.started = h.metrics.PluginStarted
	sup.extraEnv = []string{envEncryptionKeys + "=" + keys.Text()}
	if _, err := sup.Backups(ctx); err != nil {
		unlock()
		return nil, errors.Join(fmt.Errorf("host: %w", err), sup.Close())
	}
	clock := cfg.Clock
	if clock == nil {
		clock = cron.RealClock()
	}
	ops := newOperations(clock.Now)
	if ops.last, err = loadOutcome(dataDir); err != nil {
		cfg.Logger.Warn("last operation unreadable", "error", err)
	}
	verified, err := loadVerifications(dataDir)
	if err != nil {
		cfg.Logger.Warn("verification records unreadable; starting afresh", "error", err)
	}
	settings, err := loadSettings(ctx, cfg.Settings, keys)
	if err != nil {
		cfg.Logger.Error("settings unreadable", "error", err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	h.ops, h.ctx, h.cancel, h.clock, h.settings = ops, hctx, cancel, clock, settings
	h.cron = cron.New(clock, cfg.Logger.With("logger", "host.cron"))
	h.unlock, h.verified, h.webui, h.keys = unlock, verified, page, keys
	if err := h.startObserving(); err != nil {
		cancel()
		unlock()
		return nil, errors.Join(fmt.Errorf("host: %w", err), sup.Close())
	}
	if err := h.schedule(settings); err != nil {
		cfg.Logger.Error("backup schedule not applied", "cron", settings.Backups.Cron, "error", err)
	}
	h.cron.Start(hctx)
	if trash != "" {
		h.wg.Go(func() { h.removeTrash(trash) })
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.checkStorage(hctx)
	}()
	return h, nil
}

// resetTempDir empties the data directory's scratch folder: whatever is
// there is left over from a run that did not finish, or is the data a
// restore replaced. It moves it all into one trash folder inside and
// returns that folder ("" when there was nothing), for removeTrash to
// delete once the app is up: after a restore that is as big as the data
// set, and deleting it first kept the app down that much longer
// (bench/NOTES.md). A trash folder whose deletion a stop cut short
// goes into the next one.
func resetTempDir(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, tempDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("host: create %s: %w", tempDirName, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("host: %s: %w", tempDirName, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("host: read %s: %w", tempDirName, err)
	}
	if len(entries) == 0 {
		return "", nil
	}
	trash, err := os.MkdirTemp(dir, "trash-")
	if err != nil {
		return "", fmt.Errorf("host: %s: %w", tempDirName, err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(trash, e.Name())); err != nil {
			return "", fmt.Errorf("host: clear %s: %w", tempDirName, err)
		}
	}
	return trash, nil
}

// removeTrash deletes what resetTempDir set aside.
func (h *Host) removeTrash(trash string) {
	start := time.Now()
	if err := os.RemoveAll(trash); err != nil {
		h.log.Warn("could not delete leftovers; the next start tries again", "dir", trash, "error", err)
		return
	}
	h.log.Info("deleted leftovers of an earlier run", "seconds", time.Since(start).Seconds())
}

// checkStorage lists the backups once at start: it tells the operator at
// once when the storage is unreachable, and lets the storage remove what
// a process killed mid-write left behind.
func (h *Host) checkStorage(ctx context.Context) {
	timeout := h.cfg.StorageCheckTimeout
	if timeout <= 0 {
		timeout = DefaultStorageCheckTimeout
	}
	deadline := time.Now().Add(timeout)
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	url := h.storageURL()
	err := h.withPlugin(cctx, func(b shared.Backups) error {
		_, err := b.List(cctx, url)
		return err
	})
	switch {
	case err == nil:
		h.log.Info("backups storage ready", "storage", shared.Redact(url))
	case ctx.Err() != nil:
		// The host is closing; the check does not matter any more.
	case cctx.Err() != nil || !time.Now().Before(deadline):
		// The clock as well as cctx: the plugin, which got the same
		// deadline, may end the call a moment before cctx's own timer fires.
		h.log.Error("backups storage unreachable: the check timed out", "storage", shared.Redact(url),
			"timeout", timeout.String(), "error", err)
	default:
		h.log.Error("backups storage is not usable", "storage", shared.Redact(url), "error", err)
	}
}

// PluginPID returns the running plugin's process id (0 when none runs).
func (h *Host) PluginPID() int { return h.plugins.PID() }

// Close cancels running operations, waits for them and stops the plugin.
func (h *Host) Close() error {
	h.cancel()
	h.cron.Stop()
	var err error
	if h.metricsServer != nil {
		err = h.metricsServer.Close()
	}
	h.wg.Wait()
	h.notifier.Close()
	defer h.unlock()
	return errors.Join(err, h.plugins.Close())
}

// backups returns the plugin, relaunching it if it died.
func (h *Host) backups(ctx context.Context) (shared.Backups, error) {
	return h.plugins.Backups(ctx)
}

// pluginGone reports whether err may mean the plugin went away under the
// call: it was unavailable, or the call was cancelled although its caller
// was not (gRPC cancels the calls on a connection that is closing because
// its plugin died).
func pluginGone(ctx context.Context, err error) bool {
	return errors.Is(err, shared.ErrUnavailable) || (errors.Is(err, context.Canceled) && ctx.Err() == nil)
}

// withPlugin runs an idempotent call on the plugin. When the plugin died
// under it, the call runs once more on a freshly launched plugin.
func (h *Host) withPlugin(ctx context.Context, call func(shared.Backups) error) error {
	for attempt := 0; ; attempt++ {
		b, err := h.backups(ctx)
		if err != nil {
			return err
		}
		err = call(b)
		if attempt == 0 && pluginGone(ctx, err) && h.plugins.died(b) {
			h.log.Warn("plugin died during a call; retrying on a fresh plugin", "error", err)
			continue
		}
		return err
	}
}

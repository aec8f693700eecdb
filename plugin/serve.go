package plugin

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Config configures a plugin process.
type Config struct {
	// Open opens the storage a URL names; storage.Open when nil.
	Open storage.Opener
	// Name is the logger name; "pocketbackup-plugin" when empty.
	Name string
	// Engine is what archives are deflated and inflated with; Serve sets
	// archive.EngineGo when POCKETBACKUP_DEFLATE=go.
	Engine archive.Engine
	// SyncEachFile makes a restore fsync file by file rather than with one
	// syncfs(2); Serve sets it when POCKETBACKUP_FSYNC=each.
	SyncEachFile bool
	// Keys turn encryption at rest on: new backups are stored as age files
	// to the first key, and encrypted ones are decrypted with any of them.
	// Serve sets them from POCKETBACKUP_ENCRYPTION_KEYS, which the host
	// fills from its own configuration (never from data.db); KeysErr is
	// why that variable could not be parsed (the plugin then refuses
	// every operation that needs a key rather than store in clear).
	Keys    *atrest.Keys
	KeysErr error
}

// EnvEncryptionKeys is the variable through which the host hands its age
// identities (a keys file's text) to the plugin process it launches.
const EnvEncryptionKeys = "POCKETBACKUP_ENCRYPTION_KEYS"

// Serve runs the plugin until the host tells it to stop or goes away. It
// never returns normally: go-plugin exits the process. It reads the
// plugin's switches from the environment (see [Config]): this is the one
// place the plugin process does.
func Serve(cfg Config) {
	if cfg.Open == nil {
		cfg.Open = storage.Open
	}
	if cfg.Name == "" {
		cfg.Name = "pocketbackup-plugin"
	}
	cfg = withEnv(cfg, os.Getenv)
	// go-plugin redirects os.Stderr after Serve; the host reads JSON lines
	// from the real stderr, so the logger keeps the original file.
	log := hclog.New(&hclog.LoggerOptions{
		Name:       cfg.Name,
		Output:     newLogWriter(),
		JSONFormat: true,
		Level:      hclog.Info,
	})
	// A host that re-execs itself closes its pipe ends for a moment; a write
	// to stderr then must not kill the plugin.
	signal.Ignore(syscall.SIGPIPE)
	tuneGC()
	go exitWhenOrphaned(log, os.Getppid())
	// Spawned programs need not see the keys.
	_ = os.Unsetenv(EnvEncryptionKeys)
	if cfg.KeysErr != nil {
		log.Error("encryption keys unusable: operations needing them are refused", "error", cfg.KeysErr)
	}
	log.Info("plugin started", "pid", os.Getpid(), "deflate", cfg.Engine.Name(), "encryption", cfg.Keys != nil)

	svc := NewService(cfg.Open, log)
	svc.keys, svc.keysErr = cfg.Keys, cfg.KeysErr
	svc.engine, svc.syncEachFile = cfg.Engine, cfg.SyncEachFile
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: shared.Handshake,
		Plugins:         shared.PluginMap(svc),
		Logger:          log,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			logPanic := func(method string, r any, stack []byte) {
				log.Error("panic recovered", "method", method, "panic", r, "stack", string(stack))
			}
			return grpc.NewServer(append(opts, shared.ServerOptions(logPanic)...)...)
		},
	})
}

// exitWhenOrphaned ends the plugin once its host is gone for good: its
// parent changes (it is re-parented to init or a subreaper). A host that
// re-execs itself keeps its PID, so the plugin survives that.
func exitWhenOrphaned(log hclog.Logger, parent int) {
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			log.Info("host is gone, exiting", "old_parent", parent)
			os.Exit(0)
		}
	}
}

// withEnv returns cfg with the switches getenv turns on: the documented
// POCKETBACKUP_DEFLATE=go and POCKETBACKUP_FSYNC=each (README, "Speed"),
// and the host's encryption keys.
func withEnv(cfg Config, getenv func(string) string) Config {
	if getenv("POCKETBACKUP_DEFLATE") == "go" {
		cfg.Engine = archive.EngineGo
	}
	if getenv("POCKETBACKUP_FSYNC") == "each" {
		cfg.SyncEachFile = true
	}
	if text := getenv(EnvEncryptionKeys); text != "" {
		cfg.Keys, cfg.KeysErr = atrest.ParseKeys([]byte(text))
	}
	return cfg
}

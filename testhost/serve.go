package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/connlimit"
)

// serve runs the app until ctx ends: it opens the data directory, makes
// sure a superuser exists, starts the backup plugin through package host
// and serves the API on opts.HTTP.
func serve(ctx context.Context, opts serveOptions, stdout, stderr io.Writer) (err error) {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var superuserHash passwordHash
	if opts.SuperuserEmail != "" && opts.SuperuserPassword != "" {
		superuserHash = hashLater(opts.SuperuserPassword)
	}

	// A restore that the previous process left unfinished is settled before
	// any database is opened.
	if err := host.Recover(ctx, opts.DataDir, logger.With("logger", "host")); err != nil {
		return err
	}
	a, err := openApp(ctx, opts.DataDir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Close()) }()

	secret, err := a.tokenSecret(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.HTTP)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // after Serve it is closed already; the error is moot
	baseURL := listenURL(ln.Addr())

	authSvc := auth.New(&authStore{db: a.db}, secret, authCollections,
		auth.WithLogger(logger.With("logger", "auth")), auth.WithTrustedProxies(opts.TrustedProxies))

	// A restore stops the server and closes the databases through
	// Shutdown, then the host re-executes this process.
	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	hand := host.NewHandoff(func(context.Context) error { stopServing(); return nil }, a.Close)
	var restart func() error // host.ExecSelf
	if opts.StopBeforeRestart {
		restart = holdThenExec(stderr)
	}
	h, err := host.New(ctx, host.Config{
		Shutdown:      hand.Shutdown,
		Restart:       restart,
		RestartFailed: hand.RestartFailed,
		Settings:      settingsStore{db: a.db},
		DataDir:       a.dataDir,
		PluginsDir:    opts.PluginsDir,
		PluginName:    opts.PluginName,
		PluginSHA256:  opts.PluginSHA256,
		StorageURL:    opts.StorageURL,
		Auth:          authSvc,
		Logger:        logger.With("logger", "host"),
		WebUIPath:     webUIPath,
		MetricsAddr:   opts.MetricsHTTP,
		SuperuserEmails: func(ctx context.Context) ([]string, error) {
			return superuserEmails(ctx, a.db)
		},
		// Encryption at rest: the keys never reach data.db.
		EncryptionKeys: opts.EncryptionKeys,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.Close()) }()

	// Only once everything has started, so printed credentials are never
	// followed by a failed start.
	if err := bootstrapSuperuserHash(ctx, a.db, opts.SuperuserEmail, opts.SuperuserPassword, superuserHash, baseURL, stdout); err != nil {
		return err
	}

	router := appRouter(a, authSvc, logger)
	h.Register(router)
	reqLog := newRequestLogger(a.auxDB, authSvc, opts.LogsMaxDays, logger)
	if opts.LogsMaxDays > 0 {
		if err := reqLog.prune(ctx); err != nil {
			logger.Warn("request log: prune", "error", err)
		}
	}
	handler := appHandler(router, reqLog)

	fmt.Fprintf(stdout, "Server started at %s\n├─ REST API: %s/api/\n├─ Backups:  %s%s\n└─ Data:     %s\n", baseURL, baseURL, baseURL, webUIPath, a.dataDir)
	// Trusted proxies carry every client's connections: only the total
	// cap applies to them.
	limited := connlimit.Listen(ln, connlimit.Limits{
		Total: opts.limits.MaxConns, PerAddr: opts.limits.MaxConnsPerAddr, Exempt: opts.TrustedProxies.Prefixes(),
	})
	err = runServer(serveCtx, limited, handler, logger, opts.limits)
	if restoring, restartErr := hand.Served(ctx); restoring {
		// The host owned the process: it swapped the data in and
		// re-executed it, or a stop signal came first (the host then
		// skipped the re-exec, and the next start completes the restore
		// from its journal), or the re-exec failed.
		if err != nil {
			logger.Warn("server stopped with an error before the restore", "error", err)
		}
		return restartErr
	}
	return err
}

// holdMarker is what a host started with TESTHOST_STOP_BEFORE_RESTART=1
// prints on stderr when it holds before its restart.
// webUIPath is where testhost serves the backups page, as PocketBase
// serves its admin UI.
const webUIPath = "/_/"

const holdMarker = "testhost: holding before the restart (TESTHOST_STOP_BEFORE_RESTART)"

// holdThenExec is the restart of a host started for the end-to-end tests
// with TESTHOST_STOP_BEFORE_RESTART=1: after a restore has written its
// journal and swapped the data in, it prints holdMarker and waits for
// SIGUSR1 before the re-exec, so that a test can SIGKILL the process at
// exactly that moment. (A SIGSTOP of its own was tried first; under load
// the test sometimes never saw the stopped state.)
func holdThenExec(stderr io.Writer) func() error {
	return func() error {
		resume := make(chan os.Signal, 1)
		signal.Notify(resume, syscall.SIGUSR1)
		defer signal.Stop(resume)
		fmt.Fprintln(stderr, holdMarker)
		<-resume
		return host.ExecSelf()
	}
}

// Command embedded is the smallest real application that embeds package
// host: its own HTTP server and SQLite database, one superuser from the
// environment, and the whole Backups API served through the plugin.
//
//	EMBEDDED_EMAIL=me@example.com EMBEDDED_PASSWORD=secret123 \
//	  go run ./examples/go --dir=./my_data --plugins=./bin/plugins --http=127.0.0.1:8091
//
// The backups page is then at http://127.0.0.1:8091/_/.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/julienschmidt/httprouter"
	_ "modernc.org/sqlite"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/connlimit"
)

func main() {
	// First thing: a restore checks its databases in this executable
	// started again, and this call is where that child does its work.
	if code, ok := host.RunChecker(); ok {
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "./embedded_data", "data directory")
	plugins := flag.String("plugins", "./bin/plugins", "directory with the backup plugin and its .sha256")
	addr := flag.String("http", "127.0.0.1:8091", "listen address")
	flag.Parse()
	email, password := os.Getenv("EMBEDDED_EMAIL"), os.Getenv("EMBEDDED_PASSWORD")
	if email == "" || password == "" {
		return errors.New("set EMBEDDED_EMAIL and EMBEDDED_PASSWORD")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	// 1. Before opening anything in the data directory, settle a restore
	//    the previous process may have left unfinished.
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := host.Recover(ctx, *dir, log.With("logger", "host")); err != nil {
		return err
	}

	// 2. The app's own database (WAL, as PocketBase runs it).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(*dir, "data.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		return err
	}

	// 3. Auth: one superuser from the environment, kept in memory.
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	super := auth.Record{ID: "embeddedadmin01", CollectionID: auth.SuperusersID, CollectionName: auth.SuperusersName,
		Email: email, PasswordHash: hash, TokenKey: auth.NewTokenKey(), Created: now, Updated: now}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	authSvc := auth.New(oneUser{super}, []byte(hex.EncodeToString(secret)), []auth.Collection{auth.Superusers()})

	// 4. The host: a restore stops our server and closes our database
	//    through Shutdown, then re-executes this program.
	// Timeouts bound what a slow client can hold; the host's upload and
	// download handlers lift the read and write deadlines of their own
	// request once its auth has passed, so big backups are not cut.
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	hand := host.NewHandoff(srv.Shutdown, db.Close)
	h, err := host.New(ctx, host.Config{
		DataDir:    *dir,
		PluginsDir: *plugins,
		Auth:       authSvc,
		Logger:     log.With("logger", "host"),
		// The backups page (host/webui), at http://ADDR/_/.
		WebUIPath: "/_/",
		// The restore hand-over: stop serving, close the database, and
		// after the re-exec's failure end this process.
		Shutdown:      hand.Shutdown,
		RestartFailed: hand.RestartFailed,
	})
	if err != nil {
		return err
	}
	router := httprouter.New()
	authSvc.Register(router)
	h.Register(router)
	srv.Handler = router

	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	// Connection caps: in total, and per client address.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return errors.Join(err, h.Close(), db.Close())
	}
	fmt.Printf("serving http://%s (backups API under /api/backups)\n", *addr)
	err = srv.Serve(connlimit.Listen(ln, connlimit.Limits{Total: 4096, PerAddr: 64}))
	if restoring, restartErr := hand.Served(ctx); restoring {
		// A restore owned the process and re-executed it; we are here
		// only if we were stopped meanwhile or the re-exec failed.
		return restartErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, h.Close(), db.Close())
}

// oneUser is an auth.Store with a single superuser.
type oneUser struct{ rec auth.Record }

func (o oneUser) FindByEmail(_ context.Context, collectionID, email string) (auth.Record, error) {
	if collectionID == o.rec.CollectionID && strings.EqualFold(email, o.rec.Email) {
		return o.rec, nil
	}
	return auth.Record{}, auth.ErrNotFound
}

func (o oneUser) FindByID(_ context.Context, collectionID, id string) (auth.Record, error) {
	if collectionID == o.rec.CollectionID && id == o.rec.ID {
		return o.rec, nil
	}
	return auth.Record{}, auth.ErrNotFound
}

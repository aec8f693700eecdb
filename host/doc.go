// Package host is the library a PocketBase-style app embeds to get the
// Backups REST API: it loads and supervises the backup plugin, registers the
// routes on an httprouter.Router, guards them with superuser auth, holds the
// one-operation lock, takes consistent SQLite snapshots (a WAL database is
// frozen in place for the archive to read, any other copied with SQLite's
// online backup API) and reports every operation's progress and outcome in
// /api/health.
//
// A restore's staged databases are checked by the app's own executable
// started again as a child process with POCKETBACKUP_CHECK_DATABASES set.
// The app's main must call RunChecker first and exit with the status it
// returns when it reports ok: in that child it runs the check instead of
// the app; in a normal start it does nothing. The child is bounded in time
// and memory (see Config.CheckTimeout and Config.CheckMemory). The SQLite
// work itself (snapshots, freezing, checks) lives in host/internal/sqlitesnap.
//
// # Handing the process to a restore
//
// At start, before anything opens a file in the data directory, call
// Recover: it completes or rolls back a restore the previous process left.
// A restore stops the app through Config.Shutdown and re-executes the
// process (Config.Restart); a Handoff does the app's side of this in one
// place (stop serving, wait for Serve to return, close the databases, keep
// the host and its plugin alive for the next process, and end the process
// with an error if the re-exec fails). The library never exits the process
// itself.
//
// # Logging
//
// Config.Logger and Recover take a *slog.Logger, as host/auth and
// host/cron do; the plugin's lines, which go-plugin reads as hclog, reach
// it with their levels and attributes (name=plugin.…).
//
// # Serving the routes
//
// Give the http.Server read, write and idle timeouts (and ReadHeaderTimeout)
// and wrap its listener with package connlimit: the upload and download
// handlers lift the read and write deadlines of their own request through
// http.ResponseController once its auth has passed, so only they may run
// long. A middleware that wraps the ResponseWriter must keep Unwrap (and
// ReadFrom, for sendfile). A download that breaks off after its status was
// sent panics with http.ErrAbortHandler so that net/http ends the
// connection: a router's panic handler or recovery middleware must re-panic
// that value, never write an error into the body. Behind a reverse proxy,
// pass auth.WithTrustedProxies so the login limit (and /api/health's realIP)
// sees the clients' addresses.
package host

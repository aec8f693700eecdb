// Package host is the library a PocketBase-style app embeds to get the
// Backups REST API: it loads and supervises the backup plugin, registers the
// routes on an httprouter.Router, guards them with superuser auth, holds the
// one-operation lock, takes consistent SQLite snapshots (a WAL database is
// frozen in place for the archive to read, any other copied with SQLite's
// online backup API) and reports every operation's progress and outcome in
// /api/health.
package host

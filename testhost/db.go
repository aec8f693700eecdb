package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Database file names inside the data directory, as PocketBase names them.
const (
	dataDBName = "data.db"
	auxDBName  = "auxiliary.db"
)

// tokenSecretParam is the _params id under which the per-app token secret
// is kept.
const tokenSecretParam = "pocketbackup_token_secret"

// dateLayout is how PocketBase stores and sends dates.
const dateLayout = "2006-01-02 15:04:05.000Z"

// idAlphabet and idLength describe PocketBase record ids.
const (
	idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	idLength   = 15
)

// mainSchema creates, when missing, the tables of data.db. The auth tables
// have the shape PocketBase (v0.23+) gives an auth collection, so an
// existing PocketBase data.db opens unchanged; the index names are
// PocketBase's, so nothing is duplicated there.
const mainSchema = `
CREATE TABLE IF NOT EXISTS _params (
	id      TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
	value   JSON DEFAULT NULL,
	created TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL,
	updated TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);

CREATE TABLE IF NOT EXISTS _superusers (
	id              TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
	password        TEXT DEFAULT '' NOT NULL,
	tokenKey        TEXT DEFAULT '' NOT NULL,
	email           TEXT DEFAULT '' NOT NULL,
	emailVisibility BOOLEAN DEFAULT FALSE NOT NULL,
	verified        BOOLEAN DEFAULT FALSE NOT NULL,
	created         TEXT DEFAULT '' NOT NULL,
	updated         TEXT DEFAULT '' NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_tokenKey_pbc_3142635823 ON _superusers (tokenKey);
CREATE UNIQUE INDEX IF NOT EXISTS idx_email_pbc_3142635823 ON _superusers (email) WHERE email != '';

CREATE TABLE IF NOT EXISTS users (
	id              TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
	password        TEXT DEFAULT '' NOT NULL,
	tokenKey        TEXT DEFAULT '' NOT NULL,
	email           TEXT DEFAULT '' NOT NULL,
	emailVisibility BOOLEAN DEFAULT FALSE NOT NULL,
	verified        BOOLEAN DEFAULT FALSE NOT NULL,
	created         TEXT DEFAULT '' NOT NULL,
	updated         TEXT DEFAULT '' NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_tokenKey__pb_users_auth_ ON users (tokenKey);
CREATE UNIQUE INDEX IF NOT EXISTS idx_email__pb_users_auth_ ON users (email) WHERE email != '';

CREATE TABLE IF NOT EXISTS notes (
	id      TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
	title   TEXT DEFAULT '' NOT NULL,
	body    TEXT DEFAULT '' NOT NULL,
	created TEXT DEFAULT '' NOT NULL,
	updated TEXT DEFAULT '' NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_notes_created ON notes (created);
`

// auxSchema creates, when missing, the tables of auxiliary.db: PocketBase's
// _logs table, in its SQLite form.
const auxSchema = `
CREATE TABLE IF NOT EXISTS _logs (
	id      TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL,
	level   INTEGER DEFAULT 0 NOT NULL,
	message TEXT DEFAULT '' NOT NULL,
	data    JSON DEFAULT '{}' NOT NULL,
	created TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_logs_level ON _logs (level);
CREATE INDEX IF NOT EXISTS idx_logs_message ON _logs (message);
CREATE INDEX IF NOT EXISTS idx_logs_created_hour ON _logs (strftime('%Y-%m-%d %H:00:00', created));
`

// app holds the open databases of one data directory.
type app struct {
	dataDir string
	db      *sql.DB // data.db
	auxDB   *sql.DB // auxiliary.db
}

// openApp opens (creating when missing) the data directory and its two
// databases, and makes sure their schemas exist.
func openApp(ctx context.Context, dataDir string) (*app, error) {
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	db, err := openDB(ctx, filepath.Join(dataDir, dataDBName), mainSchema)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dataDBName, err)
	}
	auxDB, err := openDB(ctx, filepath.Join(dataDir, auxDBName), auxSchema)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open %s: %w", auxDBName, err), db.Close())
	}
	return &app{dataDir: dataDir, db: db, auxDB: auxDB}, nil
}

// Close closes both databases.
func (a *app) Close() error {
	return errors.Join(a.db.Close(), a.auxDB.Close())
}

// dsn is the driver name of the database file at path: a file: URI (so any
// character of the path is escaped) carrying the pragmas every connection
// runs. Write transactions begin IMMEDIATE so that they wait on
// busy_timeout instead of failing when they upgrade from a read.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_size_limit(200000000)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// openDB opens the SQLite database at path and applies schema.
func openDB(ctx context.Context, path, schema string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, err
	}
	// A few connections: WAL lets readers run beside the one writer.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, errors.Join(fmt.Errorf("read journal mode: %w", err), db.Close())
	}
	if mode != "wal" {
		return nil, errors.Join(fmt.Errorf("journal mode is %q, want wal", mode), db.Close())
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, errors.Join(fmt.Errorf("create schema: %w", err), db.Close())
	}
	return db, nil
}

// tokenSecret returns the per-app token secret, generating and storing it
// on first use. Concurrent first uses agree on one value.
func (a *app) tokenSecret(ctx context.Context) ([]byte, error) {
	fresh, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	value, err := json.Marshal(fresh)
	if err != nil {
		return nil, err
	}
	now := formatDate(time.Now())
	if _, err := a.db.ExecContext(ctx,
		`INSERT INTO _params (id, value, created, updated) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		tokenSecretParam, string(value), now, now); err != nil {
		return nil, fmt.Errorf("store token secret: %w", err)
	}
	var stored sql.NullString
	if err := a.db.QueryRowContext(ctx, `SELECT value FROM _params WHERE id = ?`, tokenSecretParam).Scan(&stored); err != nil {
		return nil, fmt.Errorf("read token secret: %w", err)
	}
	var secret string
	if err := json.Unmarshal([]byte(stored.String), &secret); err != nil || len(secret) < 32 {
		return nil, errors.New("read token secret: stored value is not a usable secret")
	}
	return []byte(secret), nil
}

// newID returns a random PocketBase-style record id: 15 characters [a-z0-9].
func newID() string {
	return randomString(idAlphabet, idLength)
}

// randomString returns n characters drawn uniformly from alphabet.
func randomString(alphabet string, n int) string {
	// rand.Text-style rejection sampling over one random byte per character.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// formatDate formats t as PocketBase stores dates.
func formatDate(t time.Time) string {
	return t.UTC().Format(dateLayout)
}

// parseDate reads a date as PocketBase stores it (and a few close forms);
// an empty or unreadable value is the zero time.
func parseDate(s string) time.Time {
	for _, layout := range []string{
		dateLayout,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05",
		time.RFC3339Nano,
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

package main

import (
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

func TestMain(m *testing.M) {
	// Cheap hashes keep the tests fast; the cost is read from each hash.
	passwordCost = bcrypt.MinCost
	code := m.Run()
	removeBuiltBinaries()
	os.Exit(code)
}

// newTestApp opens a fresh data directory in t.TempDir().
func newTestApp(t *testing.T) *app {
	t.Helper()
	a, err := openApp(t.Context(), filepath.Join(t.TempDir(), "pb_data"))
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return a
}

func tableNames(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names[n] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestOpenAppCreatesSchema(t *testing.T) {
	a := newTestApp(t)

	for _, f := range []string{dataDBName, auxDBName} {
		if _, err := os.Stat(filepath.Join(a.dataDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	main := tableNames(t, a.db)
	for _, want := range []string{"_params", "_superusers", "users", "notes"} {
		if !main[want] {
			t.Errorf("data.db lacks table %s (has %v)", want, main)
		}
	}
	if aux := tableNames(t, a.auxDB); !aux["_logs"] {
		t.Errorf("auxiliary.db lacks _logs (has %v)", aux)
	}
	for name, db := range map[string]*sql.DB{"data.db": a.db, "auxiliary.db": a.auxDB} {
		// Several connections at once, so the pragmas are checked on more
		// than the first one of the pool.
		conns := make([]*sql.Conn, 3)
		for i := range conns {
			c, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		for i, c := range conns {
			for p, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "10000", "foreign_keys": "1", "synchronous": "1"} {
				var got string
				if err := c.QueryRowContext(t.Context(), "PRAGMA "+p).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s conn %d: PRAGMA %s = %q, want %q", name, i, p, got, want)
				}
			}
		}
	}
}

func TestOpenAppReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "pb_data")
	a, err := openApp(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	secret1, err := a.tokenSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := upsertAuthRecord(ctx, a.db, auth.SuperusersID, "root@example.com", "password123"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.ExecContext(ctx, `INSERT INTO notes (id, title, created, updated) VALUES ('aaaaaaaaaaaaaaa', 'kept', '', '')`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.auxDB.ExecContext(ctx, `INSERT INTO _logs (message) VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := openApp(ctx, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	secret2, err := b.tokenSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(secret1) != string(secret2) {
		t.Errorf("token secret changed across reopen")
	}
	var title string
	if err := b.db.QueryRowContext(ctx, `SELECT title FROM notes WHERE id = 'aaaaaaaaaaaaaaa'`).Scan(&title); err != nil || title != "kept" {
		t.Errorf("note after reopen: %q, %v", title, err)
	}
	var n int
	if err := b.auxDB.QueryRowContext(ctx, `SELECT count(*) FROM _logs WHERE message = 'kept'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("log rows after reopen: %d, %v", n, err)
	}
	if n, err := countSuperusers(ctx, b.db); err != nil || n != 1 {
		t.Errorf("superusers after reopen: %d, %v", n, err)
	}
}

func TestOpenAppPathWithSpecialCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pb data?x=1#frag%20")
	a, err := openApp(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, f := range []string{dataDBName, auxDBName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("database not at its path: %v", err)
		}
	}
}

func TestOpenAppRefusesFileAsDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := openApp(t.Context(), file); err == nil {
		a.Close()
		t.Fatal("openApp on a regular file succeeded")
	}
}

func TestTokenSecret(t *testing.T) {
	a := newTestApp(t)
	s1, err := a.tokenSecret(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 64 {
		t.Fatalf("secret length %d, want 64 hex characters", len(s1))
	}
	if _, err := hex.DecodeString(string(s1)); err != nil {
		t.Errorf("secret is not hex: %v", err)
	}
	s2, err := a.tokenSecret(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if string(s1) != string(s2) {
		t.Error("second call returned another secret")
	}
	var raw string
	if err := a.db.QueryRowContext(t.Context(), `SELECT value FROM _params WHERE id = ?`, tokenSecretParam).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != `"`+string(s1)+`"` {
		t.Errorf("stored value %s, want the JSON string of the secret", raw)
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]{15}$`)
	seen := map[string]bool{}
	for range 2000 {
		id := newID()
		if !re.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, re)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestDates(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	if got := formatDate(ts.In(time.FixedZone("X", 3600))); got != "2026-01-02 03:04:05.678Z" {
		t.Errorf("formatDate = %q", got)
	}
	for in, want := range map[string]time.Time{
		"2026-01-02 03:04:05.678Z":      ts,
		"2026-01-02 03:04:05Z":          ts.Truncate(time.Second),
		"2026-01-02T03:04:05.678Z":      ts,
		"2026-01-02 04:04:05.678+01:00": ts,
		"":                              {},
		"garbage":                       {},
	} {
		if got := parseDate(in); !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDSN(t *testing.T) {
	got := dsn("/data/pb data/data.db")
	if !strings.HasPrefix(got, "file:///data/pb%20data/data.db?") {
		t.Errorf("dsn = %q", got)
	}
	for _, want := range []string{"journal_mode%28WAL%29", "busy_timeout%2810000%29", "foreign_keys%281%29", "_txlock=immediate"} {
		if !strings.Contains(got, want) {
			t.Errorf("dsn %q lacks %q", got, want)
		}
	}
}

// pocketBaseSchema is data.db's schema as PocketBase v0.23+ writes it
// (trimmed to the tables this app reads, with PocketBase's own quoting).
const pocketBaseSchema = "" +
	"CREATE TABLE `_params` (`id` TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL, `value` JSON DEFAULT NULL, `created` TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL, `updated` TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL);\n" +
	"CREATE TABLE `_collections` (`id` TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL, `system` BOOLEAN DEFAULT FALSE NOT NULL, `type` TEXT DEFAULT 'base' NOT NULL, `name` TEXT UNIQUE NOT NULL, `fields` JSON DEFAULT '[]' NOT NULL, `indexes` JSON DEFAULT '[]' NOT NULL, `listRule` TEXT DEFAULT NULL, `viewRule` TEXT DEFAULT NULL, `createRule` TEXT DEFAULT NULL, `updateRule` TEXT DEFAULT NULL, `deleteRule` TEXT DEFAULT NULL, `options` JSON DEFAULT '{}' NOT NULL, `created` TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL, `updated` TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ')) NOT NULL);\n" +
	"CREATE TABLE `_superusers` (`created` TEXT DEFAULT '' NOT NULL, `email` TEXT DEFAULT '' NOT NULL, `emailVisibility` BOOLEAN DEFAULT FALSE NOT NULL, `id` TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL, `password` TEXT DEFAULT '' NOT NULL, `tokenKey` TEXT DEFAULT '' NOT NULL, `updated` TEXT DEFAULT '' NOT NULL, `verified` BOOLEAN DEFAULT FALSE NOT NULL);\n" +
	"CREATE UNIQUE INDEX `idx_tokenKey_pbc_3142635823` ON `_superusers` (`tokenKey`);\n" +
	"CREATE UNIQUE INDEX `idx_email_pbc_3142635823` ON `_superusers` (`email`) WHERE `email` != '';\n" +
	"CREATE TABLE `users` (`avatar` TEXT DEFAULT '' NOT NULL, `created` TEXT DEFAULT '' NOT NULL, `email` TEXT DEFAULT '' NOT NULL, `emailVisibility` BOOLEAN DEFAULT FALSE NOT NULL, `id` TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL, `name` TEXT DEFAULT '' NOT NULL, `password` TEXT DEFAULT '' NOT NULL, `tokenKey` TEXT DEFAULT '' NOT NULL, `updated` TEXT DEFAULT '' NOT NULL, `verified` BOOLEAN DEFAULT FALSE NOT NULL);\n" +
	"CREATE UNIQUE INDEX `idx_tokenKey__pb_users_auth_` ON `users` (`tokenKey`);\n" +
	"CREATE UNIQUE INDEX `idx_email__pb_users_auth_` ON `users` (`email`) WHERE `email` != '';\n" +
	"CREATE TABLE `_migrations` (`file` VARCHAR(255) PRIMARY KEY NOT NULL, `applied` INTEGER NOT NULL);\n"

// writePocketBaseDataDir creates dir/data.db as PocketBase would, with one
// superuser (and the installer placeholder) whose password is password.
func writePocketBaseDataDir(t *testing.T, dir, email, password string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, dataDBName)+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), pocketBaseSchema); err != nil {
		t.Fatalf("PocketBase schema: %v", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(),
		"INSERT INTO `_superusers` (`id`, `email`, `password`, `tokenKey`, `verified`, `created`, `updated`) VALUES "+
			"('pbsuperuser0001', ?, ?, 'pbTokenKeyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1', TRUE, '2025-03-04 05:06:07.890Z', '2025-03-04 05:06:07.890Z'), "+
			"('pbinstaller0001', ?, 'x', 'pbTokenKeyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx2', TRUE, '2025-03-04 05:06:07.000Z', '2025-03-04 05:06:07.000Z')",
		email, string(hash), installerEmail); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(),
		"INSERT INTO `_params` (`id`, `value`) VALUES ('settings', '{\"meta\":{\"appName\":\"Acme\"}}')"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPocketBaseDataDir(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "pb_data")
	writePocketBaseDataDir(t, dir, "Owner@Example.com", "pocketbase-password")

	var schemaBefore string
	readSchema := func(db *sql.DB) string {
		var s string
		if err := db.QueryRowContext(ctx, `SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master WHERE tbl_name IN ('_superusers', 'users', '_params') ORDER BY name)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	{
		db, err := sql.Open("sqlite", filepath.Join(dir, dataDBName))
		if err != nil {
			t.Fatal(err)
		}
		schemaBefore = readSchema(db)
		db.Close()
	}

	a, err := openApp(ctx, dir)
	if err != nil {
		t.Fatalf("openApp on a PocketBase data dir: %v", err)
	}
	defer a.Close()

	if got := readSchema(a.db); got != schemaBefore {
		t.Errorf("opening changed PocketBase's tables:\nbefore %s\nafter  %s", schemaBefore, got)
	}
	if !tableNames(t, a.db)["notes"] {
		t.Error("notes table not added")
	}

	store := &authStore{db: a.db}
	rec, err := store.FindByEmail(ctx, auth.SuperusersID, "owner@EXAMPLE.com")
	if err != nil {
		t.Fatalf("FindByEmail: %v", err)
	}
	if rec.ID != "pbsuperuser0001" || rec.Email != "Owner@Example.com" || rec.CollectionName != auth.SuperusersName ||
		rec.CollectionID != auth.SuperusersID || rec.TokenKey == "" {
		t.Errorf("record = %+v", rec)
	}
	if want := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC); !rec.Created.Equal(want) {
		t.Errorf("created = %v, want %v", rec.Created, want)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(rec.PasswordHash), []byte("pocketbase-password")); err != nil {
		t.Errorf("stored hash does not verify: %v", err)
	}

	// The installer placeholder is not a real superuser; the other is.
	if n, err := countSuperusers(ctx, a.db); err != nil || n != 1 {
		t.Errorf("countSuperusers = %d, %v; want 1", n, err)
	}
	// PocketBase's own _params rows stay; ours is added beside them.
	if _, err := a.tokenSecret(ctx); err != nil {
		t.Fatal(err)
	}
	var settings string
	if err := a.db.QueryRowContext(ctx, `SELECT value FROM _params WHERE id = 'settings'`).Scan(&settings); err != nil || !strings.Contains(settings, "Acme") {
		t.Errorf("PocketBase settings row: %q, %v", settings, err)
	}
}

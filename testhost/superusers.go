package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// The normal auth collection PocketBase creates, used to prove that a
// valid non-superuser token is refused by superuser-only routes.
const (
	usersCollectionID   = "_pb_users_auth_"
	usersCollectionName = "users"
)

// installerEmail is the placeholder superuser PocketBase creates on first
// start; it does not count as a real superuser.
const installerEmail = "__pbinstaller@example.com"

// defaultSuperuserEmail is the superuser created on a first start without
// PB_SUPERUSER_EMAIL/PB_SUPERUSER_PASSWORD.
const defaultSuperuserEmail = "admin@example.com"

// passwordAlphabet is the alphabet of generated passwords.
const passwordAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// authCollections are the auth collections of the app and their token
// lifetimes (PocketBase's defaults).
var authCollections = []auth.Collection{
	auth.Superusers(),
	{ID: usersCollectionID, Name: usersCollectionName, TokenTTL: auth.UserTokenTTL},
}

// passwordCost is the bcrypt cost of stored password hashes (tests lower it).
var passwordCost = auth.DefaultBcryptCost

// authTables maps auth collection ids to their tables.
var authTables = map[string]string{
	auth.SuperusersID: auth.SuperusersName,
	usersCollectionID: usersCollectionName,
}

// authStore reads auth records from data.db.
type authStore struct {
	db *sql.DB
}

var _ auth.Store = (*authStore)(nil)

// authRecordColumns are the columns scanRecord reads, in order.
const authRecordColumns = `id, email, password, tokenKey, created, updated`

// FindByEmail returns the record of collectionID whose e-mail equals email,
// ignoring (ASCII) case; an exact match wins over a case-folded one.
func (s *authStore) FindByEmail(ctx context.Context, collectionID, email string) (auth.Record, error) {
	table, ok := authTables[collectionID]
	if !ok || email == "" {
		return auth.Record{}, auth.ErrNotFound
	}
	row := s.db.QueryRowContext(ctx,
		`SELECT `+authRecordColumns+` FROM `+table+`
		 WHERE email = ? COLLATE NOCASE
		 ORDER BY email = ? DESC, created, id LIMIT 1`, email, email)
	return scanRecord(row, collectionID, table)
}

// FindByID returns the record of collectionID with the given id.
func (s *authStore) FindByID(ctx context.Context, collectionID, id string) (auth.Record, error) {
	table, ok := authTables[collectionID]
	if !ok || id == "" {
		return auth.Record{}, auth.ErrNotFound
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+authRecordColumns+` FROM `+table+` WHERE id = ?`, id)
	return scanRecord(row, collectionID, table)
}

func scanRecord(row *sql.Row, collectionID, table string) (auth.Record, error) {
	var rec auth.Record
	var created, updated string
	err := row.Scan(&rec.ID, &rec.Email, &rec.PasswordHash, &rec.TokenKey, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Record{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Record{}, fmt.Errorf("find %s record: %w", table, err)
	}
	rec.CollectionID = collectionID
	rec.CollectionName = table
	rec.Created = parseDate(created)
	rec.Updated = parseDate(updated)
	return rec, nil
}

// upsertAuthRecord creates the record of collectionID with email and
// password, or, when one with that e-mail (any case) exists, sets its
// password. Either way the record gets a fresh token key, so every token
// issued before dies. It reports whether the record was created.
func upsertAuthRecord(ctx context.Context, db *sql.DB, collectionID, email, password string) (created bool, err error) {
	hash, err := auth.HashPasswordCost(password, passwordCost)
	if err != nil {
		return false, fmt.Errorf("hash password: %w", err)
	}
	return upsertAuthRecordHash(ctx, db, collectionID, email, hash)
}

// upsertAuthRecordHash is upsertAuthRecord with the password's hash
// computed already.
func upsertAuthRecordHash(ctx context.Context, db *sql.DB, collectionID, email, hash string) (created bool, err error) {
	table, ok := authTables[collectionID]
	if !ok {
		return false, fmt.Errorf("upsert: unknown auth collection %q", collectionID)
	}
	tokenKey := auth.NewTokenKey()
	now := formatDate(time.Now())

	tx, err := db.BeginTx(ctx, nil) // IMMEDIATE (see dsn): no lost update
	if err != nil {
		return false, fmt.Errorf("upsert %s: %w", table, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()

	var id string
	err = tx.QueryRowContext(ctx,
		`SELECT id FROM `+table+` WHERE email = ? COLLATE NOCASE ORDER BY email = ? DESC, created, id LIMIT 1`,
		email, email).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		created = true
		_, err = tx.ExecContext(ctx,
			`INSERT INTO `+table+` (id, password, tokenKey, email, emailVisibility, verified, created, updated)
			 VALUES (?, ?, ?, ?, FALSE, TRUE, ?, ?)`,
			newID(), hash, tokenKey, email, now, now)
	case err == nil:
		_, err = tx.ExecContext(ctx,
			`UPDATE `+table+` SET password = ?, tokenKey = ?, updated = ? WHERE id = ?`,
			hash, tokenKey, now, id)
	}
	if err != nil {
		return false, fmt.Errorf("upsert %s: %w", table, err)
	}
	if err = tx.Commit(); err != nil {
		return false, fmt.Errorf("upsert %s: %w", table, err)
	}
	return created, nil
}

// countSuperusers counts the real superusers (not PocketBase's installer
// placeholder).
func countSuperusers(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM _superusers WHERE email != ? COLLATE NOCASE`, installerEmail).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count superusers: %w", err)
	}
	return n, nil
}

// superuserEmails lists the real superusers' addresses (e-mail alerts
// "to all superusers").
func superuserEmails(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT email FROM _superusers WHERE email != ? COLLATE NOCASE ORDER BY email`, installerEmail)
	if err != nil {
		return nil, fmt.Errorf("list superusers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var email string
		if err := rows.Scan(&email); err != nil {
			return nil, fmt.Errorf("list superusers: %w", err)
		}
		out = append(out, email)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list superusers: %w", err)
	}
	return out, nil
}

// bootstrapSuperuser runs at start. With email and password (from the
// environment) it upserts that superuser. Otherwise, when no real superuser
// exists, it creates one with a random password and prints the credentials
// and baseURL, once, to out.
func bootstrapSuperuser(ctx context.Context, db *sql.DB, email, password, baseURL string, out io.Writer) error {
	hashNow := func() (string, error) { return auth.HashPasswordCost(password, passwordCost) }
	return bootstrapSuperuserHash(ctx, db, email, password, hashNow, baseURL, out)
}

// passwordHash is a password's bcrypt hash, computed in the background
// (hashLater) or on demand.
type passwordHash func() (string, error)

// hashLater starts hashing password at once, in the background: bcrypt is
// slow on purpose, and at start (after a restore's re-exec, while the app
// is down) it runs beside the rest of the start instead of after it.
func hashLater(password string) passwordHash {
	var hash string
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		hash, err = auth.HashPasswordCost(password, passwordCost)
	}()
	return func() (string, error) {
		<-done
		return hash, err
	}
}

// bootstrapSuperuserHash is bootstrapSuperuser with the hash of password
// (used only when email and password are set) on its way.
func bootstrapSuperuserHash(ctx context.Context, db *sql.DB, email, password string, hashed passwordHash, baseURL string, out io.Writer) error {
	if email != "" && password != "" {
		if err := validateCredentials(email, password); err != nil {
			return fmt.Errorf("PB_SUPERUSER_EMAIL/PB_SUPERUSER_PASSWORD: %w", err)
		}
		hash, err := hashed()
		if err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
		_, err = upsertAuthRecordHash(ctx, db, auth.SuperusersID, email, hash)
		return err
	}
	n, err := countSuperusers(ctx, db)
	if err != nil || n > 0 {
		return err
	}
	password = randomString(passwordAlphabet, 20)
	if _, err := upsertAuthRecord(ctx, db, auth.SuperusersID, defaultSuperuserEmail, password); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, `
================================================================
 No superuser existed, so one was created. Shown only this once:
   email:    %s
   password: %s
   URL:      %s
 Change it with: testhost superuser upsert EMAIL PASSWORD --dir=...
================================================================

`, defaultSuperuserEmail, password, baseURL)
	return err
}

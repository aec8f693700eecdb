package main

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

func TestUpsertCreatesThenUpdates(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	store := &authStore{db: a.db}

	created, err := upsertAuthRecord(ctx, a.db, auth.SuperusersID, "Admin@Example.com", "first-password")
	if err != nil || !created {
		t.Fatalf("first upsert: created=%v err=%v", created, err)
	}
	first, err := store.FindByEmail(ctx, auth.SuperusersID, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z0-9]{15}$`).MatchString(first.ID) {
		t.Errorf("id %q is not PocketBase-shaped", first.ID)
	}
	if len(first.TokenKey) != 50 {
		t.Errorf("token key %q", first.TokenKey)
	}
	if first.Created.IsZero() || !first.Created.Equal(first.Updated) {
		t.Errorf("created %v, updated %v", first.Created, first.Updated)
	}
	var verified, visible bool
	if err := a.db.QueryRowContext(ctx, `SELECT verified, emailVisibility FROM _superusers WHERE id = ?`, first.ID).Scan(&verified, &visible); err != nil {
		t.Fatal(err)
	}
	if !verified || visible {
		t.Errorf("verified=%v emailVisibility=%v, want true, false", verified, visible)
	}

	// Same e-mail in another case: the same record, a new hash and token key.
	created, err = upsertAuthRecord(ctx, a.db, auth.SuperusersID, "ADMIN@example.COM", "second-password")
	if err != nil || created {
		t.Fatalf("second upsert: created=%v err=%v", created, err)
	}
	second, err := store.FindByID(ctx, auth.SuperusersID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if second.TokenKey == first.TokenKey {
		t.Error("token key unchanged: old tokens would stay valid")
	}
	if second.Email != "Admin@Example.com" {
		t.Errorf("e-mail changed to %q", second.Email)
	}
	if bcrypt.CompareHashAndPassword([]byte(second.PasswordHash), []byte("second-password")) != nil {
		t.Error("new password does not verify")
	}
	if bcrypt.CompareHashAndPassword([]byte(second.PasswordHash), []byte("first-password")) == nil {
		t.Error("old password still verifies")
	}
	if !second.Created.Equal(first.Created) {
		t.Errorf("created changed: %v -> %v", first.Created, second.Created)
	}
	if n, err := countSuperusers(ctx, a.db); err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1", n, err)
	}
}

func TestUpsertKeepsCollectionsApart(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	store := &authStore{db: a.db}
	if _, err := upsertAuthRecord(ctx, a.db, usersCollectionID, "user@example.com", "user-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindByEmail(ctx, auth.SuperusersID, "user@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("user found among superusers: %v", err)
	}
	rec, err := store.FindByEmail(ctx, usersCollectionID, "user@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if rec.CollectionID != usersCollectionID || rec.CollectionName != "users" || rec.IsSuperuser() {
		t.Errorf("record = %+v", rec)
	}
	if n, err := countSuperusers(ctx, a.db); err != nil || n != 0 {
		t.Errorf("superusers = %d, %v; want 0", n, err)
	}
	if _, err := upsertAuthRecord(ctx, a.db, "pbc_unknown", "x@example.com", "password1"); err == nil {
		t.Error("upsert into an unknown collection succeeded")
	}
}

func TestFindByEmail(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	store := &authStore{db: a.db}
	// PocketBase's unique index is case-sensitive, so an old data.db may hold
	// two spellings: the exact one wins.
	for _, e := range []string{"Twin@example.com", "twin@example.com"} {
		if _, err := a.db.ExecContext(ctx, `INSERT INTO _superusers (id, email, password, tokenKey, created, updated) VALUES (?, ?, 'h', ?, '', '')`,
			newID(), e, auth.NewTokenKey()); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []string{"Twin@example.com", "twin@example.com"} {
		rec, err := store.FindByEmail(ctx, auth.SuperusersID, e)
		if err != nil || rec.Email != e {
			t.Errorf("FindByEmail(%q) = %q, %v", e, rec.Email, err)
		}
	}
	if rec, err := store.FindByEmail(ctx, auth.SuperusersID, "TWIN@EXAMPLE.COM"); err != nil || !strings.EqualFold(rec.Email, "twin@example.com") {
		t.Errorf("case-folded lookup = %q, %v", rec.Email, err)
	}
	for _, tc := range []struct{ collection, email string }{
		{auth.SuperusersID, "nobody@example.com"},
		{auth.SuperusersID, ""},
		{auth.SuperusersID, "twin@example.com' OR 1=1 --"},
		{"pbc_unknown", "twin@example.com"},
		{usersCollectionID, "twin@example.com"},
	} {
		if _, err := store.FindByEmail(ctx, tc.collection, tc.email); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("FindByEmail(%q, %q) err = %v, want ErrNotFound", tc.collection, tc.email, err)
		}
	}
	if _, err := store.FindByID(ctx, auth.SuperusersID, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("FindByID(unknown) err = %v", err)
	}
}

func TestFindReportsDatabaseErrors(t *testing.T) {
	a := newTestApp(t)
	store := &authStore{db: a.db}
	if _, err := a.db.ExecContext(t.Context(), `DROP TABLE _superusers`); err != nil {
		t.Fatal(err)
	}
	_, err := store.FindByEmail(t.Context(), auth.SuperusersID, "a@example.com")
	if err == nil || errors.Is(err, auth.ErrNotFound) {
		t.Errorf("err = %v, want a database error that is not ErrNotFound", err)
	}
}

func TestBootstrapSuperuserCreatesOneOnce(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	var out bytes.Buffer
	if err := bootstrapSuperuser(ctx, a.db, "", "", "http://127.0.0.1:8090", &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+email:\s+(\S+)\n\s+password:\s+(\S+)\n\s+URL:\s+(\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("credentials not printed clearly:\n%s", out.String())
	}
	email, password, url := m[1], m[2], m[3]
	if email != defaultSuperuserEmail || url != "http://127.0.0.1:8090" {
		t.Errorf("email %q url %q", email, url)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{20}$`).MatchString(password) {
		t.Errorf("password %q is not 20 random characters", password)
	}
	rec, err := (&authStore{db: a.db}).FindByEmail(ctx, auth.SuperusersID, email)
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(rec.PasswordHash), []byte(password)) != nil {
		t.Error("printed password does not match the stored hash")
	}

	out.Reset()
	if err := bootstrapSuperuser(ctx, a.db, "", "", "http://x", &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("second start printed %q", out.String())
	}
	if n, _ := countSuperusers(ctx, a.db); n != 1 {
		t.Errorf("superusers = %d, want 1", n)
	}
}

func TestBootstrapSuperuserFromEnvironment(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	var out bytes.Buffer
	if err := bootstrapSuperuser(ctx, a.db, "ops@example.com", "env-password", "http://x", &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q although the credentials came from the environment", out.String())
	}
	store := &authStore{db: a.db}
	before, err := store.FindByEmail(ctx, auth.SuperusersID, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindByEmail(ctx, auth.SuperusersID, defaultSuperuserEmail); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("default superuser created too: %v", err)
	}
	// Every start upserts again: a changed password takes effect.
	if err := bootstrapSuperuser(ctx, a.db, "ops@example.com", "changed-password", "http://x", &out); err != nil {
		t.Fatal(err)
	}
	after, err := store.FindByEmail(ctx, auth.SuperusersID, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID || bcrypt.CompareHashAndPassword([]byte(after.PasswordHash), []byte("changed-password")) != nil {
		t.Errorf("password not updated in place: before %+v after %+v", before, after)
	}
	if err := bootstrapSuperuser(ctx, a.db, "not-an-email", "changed-password", "http://x", &out); err == nil {
		t.Error("invalid e-mail accepted")
	}
}

func TestBootstrapSuperuserIgnoresInstaller(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	if _, err := a.db.ExecContext(ctx, `INSERT INTO _superusers (id, email, password, tokenKey, created, updated) VALUES (?, ?, 'x', ?, '', '')`,
		newID(), installerEmail, auth.NewTokenKey()); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := bootstrapSuperuser(ctx, a.db, "", "", "http://x", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), defaultSuperuserEmail) {
		t.Errorf("no superuser created beside the installer placeholder; output %q", out.String())
	}
}

// TestBootstrapSuperuserHashedLater: serve starts hashing the password
// from the environment at once and bootstraps with that hash later.
func TestBootstrapSuperuserHashedLater(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	var out bytes.Buffer
	if err := bootstrapSuperuserHash(ctx, a.db, "ops@example.com", "env-password", hashLater("env-password"), "http://x", &out); err != nil {
		t.Fatal(err)
	}
	rec, err := (&authStore{db: a.db}).FindByEmail(ctx, auth.SuperusersID, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(rec.PasswordHash), []byte("env-password")) != nil {
		t.Fatalf("stored hash %q does not verify the password", rec.PasswordHash)
	}
}

// TestSuperuserEmails: alerts "to all superusers" go to the real ones,
// not to PocketBase's installer placeholder nor to plain users.
func TestSuperuserEmails(t *testing.T) {
	ctx := t.Context()
	a := newTestApp(t)
	for _, e := range []string{"b@example.com", "a@example.com", installerEmail} {
		if _, err := a.db.ExecContext(ctx, `INSERT INTO _superusers (id, email, password, tokenKey, created, updated) VALUES (?, ?, 'h', ?, '', '')`,
			newID(), e, auth.NewTokenKey()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := upsertAuthRecord(ctx, a.db, usersCollectionID, "user@example.com", "password123"); err != nil {
		t.Fatal(err)
	}
	got, err := superuserEmails(ctx, a.db)
	if err != nil || strings.Join(got, ",") != "a@example.com,b@example.com" {
		t.Fatalf("superuserEmails = %v, %v", got, err)
	}
}

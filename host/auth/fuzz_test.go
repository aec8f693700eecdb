package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// Fixed keys of the fuzz service, so that the committed seed corpus
// (testdata/fuzz/FuzzParseToken) holds tokens signed with the right key:
// expired ones, ones with a refused alg and so on.
const (
	fuzzSecret   = "fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	fuzzTokenKey = "fuzzTokenKey0123456789abcdefghijklmnopqrstuvwxyzAB"
)

// FuzzParseToken feeds arbitrary strings to Authenticate (as the
// Authorization header) and to VerifyFileToken. Neither may panic, a store
// that works must never make them fail with anything but ErrInvalidToken,
// no string is both a valid auth and a valid file token, and whatever they
// accept belongs to a stored record.
func FuzzParseToken(f *testing.F) {
	store := newMemStore()
	super := auth.Record{ID: "fuzzsu1", CollectionID: auth.SuperusersID, Email: "su@example.com",
		PasswordHash: "$2a$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva", TokenKey: fuzzTokenKey}
	user := auth.Record{ID: "fuzzuser1", CollectionID: usersID, Email: "user@example.com", TokenKey: fuzzTokenKey}
	store.put(super)
	store.put(user)
	svc := auth.New(store, []byte(fuzzSecret), []auth.Collection{auth.Superusers(), {ID: usersID, Name: usersName}})

	for _, rec := range []auth.Record{super, user} {
		a, err := svc.NewAuthToken(rec)
		if err != nil {
			f.Fatal(err)
		}
		fl, err := svc.NewFileToken(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a)
		f.Add("Bearer " + a)
		f.Add(fl)
	}

	f.Fuzz(func(t *testing.T, s string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Authorization"] = []string{s}
		rec, authOK := svc.Authenticate(req)
		frec, err := svc.VerifyFileToken(t.Context(), s)
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("VerifyFileToken(%q) = %v, want nil or ErrInvalidToken", s, err)
		}
		fileOK := err == nil
		if authOK && fileOK {
			t.Fatalf("%q is both an auth and a file token", s)
		}
		for _, got := range []struct {
			ok  bool
			rec auth.Record
		}{{authOK, rec}, {fileOK, frec}} {
			if !got.ok {
				continue
			}
			r := got.rec
			stored, err := store.FindByID(t.Context(), r.CollectionID, r.ID)
			if err != nil || stored.TokenKey != r.TokenKey || stored.Email != r.Email {
				t.Fatalf("%q accepted for %+v, which is not a stored record (%v)", s, r, err)
			}
			if (r.CollectionID == auth.SuperusersID) != r.IsSuperuser() {
				t.Fatalf("record %+v: collection name does not match its id", r)
			}
		}
	})
}

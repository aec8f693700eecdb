package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

func TestRequireSuperuser(t *testing.T) {
	f := newFixture(t)
	bad := badAuthTokens(t, f)
	super := f.authToken(t, f.super)

	rows := unauthorizedRows("GET", backups, bad)
	rows = append(rows,
		scenario{name: "users token", method: "GET", url: backups, headers: authHeader(f.authToken(t, f.user)), status: 403, exact: bodyForbidden},
		scenario{name: "superuser raw", method: "GET", url: backups, headers: authHeader(super), status: 200, exact: `{"guarded":true,"id":"su1"}`},
		scenario{name: "superuser bearer", method: "GET", url: backups, headers: authHeader("Bearer " + super), status: 200, exact: `{"guarded":true,"id":"su1"}`},
		scenario{name: "superuser lowercase bearer", method: "GET", url: backups, headers: authHeader("bearer  " + super + " "), status: 200, exact: `{"guarded":true,"id":"su1"}`},
	)
	f.run(t, rows)
}

// TestVerifyFileToken runs file tokens through the download-like test route.
func TestVerifyFileToken(t *testing.T) {
	f := newFixture(t)
	gone := f.addRecord(t, auth.SuperusersID, "gone", "gone@example.com", "gone-password")
	goneToken := f.fileToken(t, gone)
	f.store.remove(auth.SuperusersID, gone.ID)
	changed := f.addRecord(t, auth.SuperusersID, "changed", "changed@example.com", "old-password")
	changedToken := f.fileToken(t, changed)
	f.changePassword(t, changed, "new-password")
	noneToken, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(f.super, "file", time.Minute)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	good := f.fileToken(t, f.super)

	const url = "/api/backups/x.zip?token="
	rows := []scenario{{name: "no token", method: "GET", url: "/api/backups/x.zip", status: 401, exact: bodyUnauthorized}}
	for _, b := range []struct{ name, token string }{
		{"garbage", "garbage"},
		{"auth token used as file token", f.authToken(t, f.super)},
		{"expired", sign(t, jwt.SigningMethodHS256, f.key(f.super), claimsFor(f.super, "file", -time.Second))},
		{"tampered signature", tamperSignature(good)},
		{"alg none", noneToken},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, f.key(f.super), claimsFor(f.super, "file", time.Minute))},
		{"record since deleted", goneToken},
		{"issued before the token key changed", changedToken},
	} {
		rows = append(rows, scenario{name: b.name, method: "GET", url: url + b.token, status: 401, exact: bodyUnauthorized})
	}
	rows = append(rows,
		scenario{name: "users file token", method: "GET", url: url + f.fileToken(t, f.user), status: 403, exact: bodyForbidden},
		scenario{name: "superuser file token", method: "GET", url: url + good, status: 200, exact: `{"key":"x.zip","id":"su1"}`},
	)
	f.run(t, rows)

	if _, err := f.svc.VerifyFileToken(t.Context(), "garbage"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("VerifyFileToken(garbage) error %v, want ErrInvalidToken", err)
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	super := f.authToken(t, f.super)
	for _, tc := range []struct {
		name, header string
		ok           bool
		id           string
	}{
		{"raw", super, true, "su1"},
		{"bearer", "Bearer " + super, true, "su1"},
		{"user", f.authToken(t, f.user), true, "user1"},
		{"empty", "", false, ""},
		{"bearer twice", "Bearer Bearer " + super, false, ""},
		{"basic auth", "Basic YWRtaW46cGFzcw==", false, ""},
		{"file token", f.fileToken(t, f.super), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", tc.header)
			rec, ok := f.svc.Authenticate(req)
			if ok != tc.ok || rec.ID != tc.id {
				t.Fatalf("Authenticate = %q, %v; want %q, %v", rec.ID, ok, tc.id, tc.ok)
			}
			if ok && (rec.PasswordHash == "" || rec.CollectionName == "") {
				t.Errorf("record not filled: %+v", rec)
			}
		})
	}
}

package auth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

const (
	loginSuper   = "/api/collections/_superusers/auth-with-password"
	loginUsers   = "/api/collections/users/auth-with-password"
	refreshSuper = "/api/collections/_superusers/auth-refresh"
	refreshUsers = "/api/collections/users/auth-refresh"
	filesToken   = "/api/files/token"
	backups      = "/api/backups"
)

// wantRecordJSON is the public JSON of rec.
func wantRecordJSON(rec auth.Record) string {
	return fmt.Sprintf(`{"id":%q,"collectionId":%q,"collectionName":%q,"email":%q,"emailVisibility":false,"verified":true,`+
		`"created":"2026-01-02 02:04:05.678Z","updated":"2026-01-02 03:04:05.678Z"}`,
		rec.ID, rec.CollectionID, rec.CollectionName, rec.Email)
}

// checkAuthResponse checks a {token, record} body: exactly those keys, the
// public record of rec, and a token the service accepts for rec.
func (f *fixture) checkAuthResponse(rec auth.Record) func(t *testing.T, body []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var got map[string]json.RawMessage
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["token"] == nil || got["record"] == nil {
			t.Fatalf("body %s: want exactly token and record", body)
		}
		assertJSONEqual(t, got["record"], wantRecordJSON(rec))
		var token string
		if err := json.Unmarshal(got["token"], &token); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", token)
		authed, ok := f.svc.Authenticate(req)
		if !ok || authed.ID != rec.ID || authed.CollectionID != rec.CollectionID {
			t.Fatalf("returned token authenticates %+v, %v; want record %s", authed, ok, rec.ID)
		}
	}
}

func formBody(v url.Values) (map[string]string, string) {
	return map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, v.Encode()
}

func multipartBody(t *testing.T, fields map[string]string) (map[string]string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Content-Type": mw.FormDataContentType()}, buf.String()
}

func loginJSON(identity, password string) string {
	b, _ := json.Marshal(map[string]string{"identity": identity, "password": password})
	return string(b)
}

func validationBody(fields map[string]string) string {
	msgs := map[string]string{
		"validation_required":            "Cannot be blank.",
		"validation_length_out_of_range": "The length must be between 1 and 255.",
	}
	data := map[string]any{}
	for field, code := range fields {
		data[field] = map[string]string{"code": code, "message": msgs[code]}
	}
	b, _ := json.Marshal(map[string]any{
		"status": 400, "message": "An error occurred while validating the submitted data.", "data": data,
	})
	return string(b)
}

func TestAuthWithPassword(t *testing.T) {
	// More than 5 of these rows fail to log in, all from one address, at
	// once: the login limit (limit_test.go) is off here.
	f := newFixture(t, auth.WithLoginLimit(0, 0))
	formHdr, formData := formBody(url.Values{"identity": {"admin@example.com"}, "password": {superPassword}})
	mpHdr, mpData := multipartBody(t, map[string]string{"identity": "admin@example.com", "password": superPassword})
	secrets := []string{f.super.PasswordHash, f.super.TokenKey, f.user.PasswordHash, f.user.TokenKey, "password", "tokenKey", "$2a$"}
	long := strings.Repeat("a", 256)
	multibyte255 := strings.Repeat("é", 255) // 510 bytes, 255 characters

	f.run(t, []scenario{
		{name: "json success", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("admin@example.com", superPassword), status: 200, excludes: secrets, check: f.checkAuthResponse(f.super)},
		{name: "email is case-insensitive", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("ADMIN@Example.COM", superPassword), status: 200, excludes: secrets, check: f.checkAuthResponse(f.super)},
		{name: "form body", method: "POST", url: loginSuper, headers: formHdr, body: formData,
			status: 200, excludes: secrets, check: f.checkAuthResponse(f.super)},
		{name: "multipart body", method: "POST", url: loginSuper, headers: mpHdr, body: mpData,
			status: 200, excludes: secrets, check: f.checkAuthResponse(f.super)},
		{name: "collection by id", method: "POST", url: "/api/collections/" + auth.SuperusersID + "/auth-with-password", headers: jsonType,
			body: loginJSON("admin@example.com", superPassword), status: 200, check: f.checkAuthResponse(f.super)},
		{name: "users collection", method: "POST", url: loginUsers, headers: jsonType,
			body: loginJSON("user@example.com", userPassword), status: 200, excludes: secrets, check: f.checkAuthResponse(f.user)},
		{name: "wrong password", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("admin@example.com", "wrong-password"), status: 400, exact: bodyFailedAuth},
		{name: "unknown email", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("nobody@example.com", superPassword), status: 400, exact: bodyFailedAuth},
		{name: "user credentials on superusers", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("user@example.com", userPassword), status: 400, exact: bodyFailedAuth},
		{name: "superuser credentials on users", method: "POST", url: loginUsers, headers: jsonType,
			body: loginJSON("admin@example.com", superPassword), status: 400, exact: bodyFailedAuth},
		{name: "password past bcrypt's 72 bytes", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("admin@example.com", superPassword+strings.Repeat("x", 100)), status: 400, exact: bodyFailedAuth},
		{name: "255 multibyte characters are not too long", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON(multibyte255, superPassword), status: 400, exact: bodyFailedAuth},
		{name: "empty body", method: "POST", url: loginSuper, headers: jsonType, status: 400,
			exact: validationBody(map[string]string{"identity": "validation_required", "password": "validation_required"})},
		{name: "empty object", method: "POST", url: loginSuper, headers: jsonType, body: `{}`, status: 400,
			exact: validationBody(map[string]string{"identity": "validation_required", "password": "validation_required"})},
		{name: "blank identity", method: "POST", url: loginSuper, headers: jsonType, body: loginJSON("", superPassword), status: 400,
			exact: validationBody(map[string]string{"identity": "validation_required"})},
		{name: "blank password in form", method: "POST", url: loginSuper,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "identity=admin%40example.com&password=", status: 400,
			exact: validationBody(map[string]string{"password": "validation_required"})},
		{name: "overlong identity", method: "POST", url: loginSuper, headers: jsonType, body: loginJSON(long, superPassword), status: 400,
			exact: validationBody(map[string]string{"identity": "validation_length_out_of_range"})},
		{name: "overlong password", method: "POST", url: loginSuper, headers: jsonType, body: loginJSON("admin@example.com", long), status: 400,
			exact: validationBody(map[string]string{"password": "validation_length_out_of_range"})},
		{name: "overlong identity, blank password", method: "POST", url: loginSuper, headers: jsonType, body: loginJSON(long, ""), status: 400,
			exact: validationBody(map[string]string{"identity": "validation_length_out_of_range", "password": "validation_required"})},
		{name: "malformed json", method: "POST", url: loginSuper, headers: jsonType, body: `{"identity":`, status: 400, exact: bodyBadRequest},
		{name: "identity not a string", method: "POST", url: loginSuper, headers: jsonType,
			body: `{"identity":5,"password":"x"}`, status: 400, exact: bodyBadRequest},
	})
}

func TestAuthWithPasswordAfterPasswordChange(t *testing.T) {
	f := newFixture(t)
	old := f.authToken(t, f.super)
	f.changePassword(t, f.super, "new-password-123")

	f.run(t, []scenario{
		{name: "old password", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("admin@example.com", superPassword), status: 400, exact: bodyFailedAuth},
		{name: "new password", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("admin@example.com", "new-password-123"), status: 200},
		{name: "token of the old password", method: "GET", url: backups, headers: authHeader(old), status: 401, exact: bodyUnauthorized},
	})
}

// badAuthTokens returns tokens that must all be refused as auth tokens. It
// adds and changes records of f, so call it before running scenarios.
func badAuthTokens(t *testing.T, f *fixture) []struct{ name, token string } {
	gone := f.addRecord(t, auth.SuperusersID, "gone", "gone@example.com", "gone-password")
	goneToken := f.authToken(t, gone)
	f.store.remove(auth.SuperusersID, gone.ID)

	changed := f.addRecord(t, auth.SuperusersID, "changed", "changed@example.com", "old-password")
	changedToken := f.authToken(t, changed)
	f.changePassword(t, changed, "new-password")

	other := f.addRecord(t, auth.SuperusersID, "other", "other@example.com", "other-password")
	good := f.authToken(t, f.super)

	noExp := claimsFor(f.super, "auth", time.Hour)
	delete(noExp, "exp")
	noType := claimsFor(f.super, "auth", time.Hour)
	delete(noType, "type")
	unknownCol := claimsFor(f.super, "auth", time.Hour)
	unknownCol["collectionId"] = "pbc_unknown"
	crossCol := claimsFor(f.super, "auth", time.Hour) // a superuser id claimed in users
	crossCol["collectionId"] = usersID
	expNotNumber := claimsFor(f.super, "auth", time.Hour)
	expNotNumber["exp"] = "tomorrow"
	noneToken, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(f.super, "auth", time.Hour)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	return []struct{ name, token string }{
		{"garbage", "not-a-token"},
		{"three garbage parts", "a.b.c"},
		{"bearer without token", "Bearer "},
		{"expired", sign(t, jwt.SigningMethodHS256, f.key(f.super), claimsFor(f.super, "auth", -time.Minute))},
		{"tampered signature", tamperSignature(good)},
		{"tampered payload", replacePayload(t, good, claimsFor(other, "auth", time.Hour))},
		{"extended expiry", replacePayload(t, good, claimsFor(f.super, "auth", 48*time.Hour))},
		{"alg none", noneToken},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, f.key(f.super), claimsFor(f.super, "auth", time.Hour))},
		{"HS384 with the right key", sign(t, jwt.SigningMethodHS384, f.key(f.super), claimsFor(f.super, "auth", time.Hour))},
		{"token key without the app secret", sign(t, jwt.SigningMethodHS256, []byte(f.super.TokenKey), claimsFor(f.super, "auth", time.Hour))},
		{"another app secret", sign(t, jwt.SigningMethodHS256, []byte(f.super.TokenKey+auth.NewTokenKey()), claimsFor(f.super, "auth", time.Hour))},
		{"no exp", sign(t, jwt.SigningMethodHS256, f.key(f.super), noExp)},
		{"exp not a number", sign(t, jwt.SigningMethodHS256, f.key(f.super), expNotNumber)},
		{"no type", sign(t, jwt.SigningMethodHS256, f.key(f.super), noType)},
		{"unknown collection", sign(t, jwt.SigningMethodHS256, f.key(f.super), unknownCol)},
		{"record claimed in another collection", sign(t, jwt.SigningMethodHS256, f.key(f.super), crossCol)},
		{"file token used as auth", f.fileToken(t, f.super)},
		{"record since deleted", goneToken},
		{"issued before the token key changed", changedToken},
		{"too long", good + strings.Repeat("A", 5000)},
	}
}

// unauthorizedRows returns a 401 row for no auth and each bad token.
func unauthorizedRows(method, url string, bad []struct{ name, token string }) []scenario {
	rows := []scenario{{name: "no auth", method: method, url: url, status: 401, exact: bodyUnauthorized}}
	for _, b := range bad {
		rows = append(rows, scenario{name: b.name, method: method, url: url, headers: authHeader(b.token), status: 401, exact: bodyUnauthorized})
	}
	return rows
}

func TestAuthRefresh(t *testing.T) {
	f := newFixture(t)
	bad := badAuthTokens(t, f)
	super, user := f.authToken(t, f.super), f.authToken(t, f.user)
	notRefreshable := claimsFor(f.super, "auth", time.Hour)
	notRefreshable["refreshable"] = false

	rows := unauthorizedRows("POST", refreshSuper, bad)
	rows = append(rows,
		scenario{name: "superuser", method: "POST", url: refreshSuper, headers: authHeader(super), status: 200, check: f.checkAuthResponse(f.super)},
		scenario{name: "superuser bearer", method: "POST", url: refreshSuper, headers: authHeader("Bearer " + super), status: 200, check: f.checkAuthResponse(f.super)},
		scenario{name: "superuser by collection id", method: "POST", url: "/api/collections/" + auth.SuperusersID + "/auth-refresh",
			headers: authHeader(super), status: 200, check: f.checkAuthResponse(f.super)},
		scenario{name: "users token on superusers", method: "POST", url: refreshSuper, headers: authHeader(user), status: 403, exact: bodyForbidden},
		scenario{name: "superuser token on users", method: "POST", url: refreshUsers, headers: authHeader(super), status: 403, exact: bodyForbidden},
		scenario{name: "users token on users", method: "POST", url: refreshUsers, headers: authHeader(user), status: 200, check: f.checkAuthResponse(f.user)},
		scenario{name: "no auth on users", method: "POST", url: refreshUsers, status: 401, exact: bodyUnauthorized},
		scenario{name: "not refreshable", method: "POST", url: refreshSuper,
			headers: authHeader(sign(t, jwt.SigningMethodHS256, f.key(f.super), notRefreshable)), status: 403,
			exact: `{"status":403,"message":"The current auth token is not refreshable.","data":{}}`},
	)
	f.run(t, rows)
}

func TestAuthRefreshReadsTheRecordAgain(t *testing.T) {
	f := newFixture(t)
	token := f.authToken(t, f.super)
	rec := f.super
	rec.Email = "renamed@example.com"
	f.store.put(rec)
	status, body, _ := f.do(t, "POST", refreshSuper, authHeader(token), "")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	f.checkAuthResponse(rec)(t, body)
}

func TestFilesToken(t *testing.T) {
	f := newFixture(t)
	bad := badAuthTokens(t, f)
	checkFileToken := func(rec auth.Record) func(*testing.T, []byte) {
		return func(t *testing.T, body []byte) {
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if ks := slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			}); !slices.Equal(ks, []string{"token"}) {
				t.Fatalf("keys %v, want [token]", ks)
			}
			owner, err := f.svc.VerifyFileToken(t.Context(), got["token"])
			if err != nil || owner.ID != rec.ID {
				t.Fatalf("VerifyFileToken = %+v, %v; want record %s", owner, err, rec.ID)
			}
		}
	}
	rows := unauthorizedRows("POST", filesToken, bad)
	rows = append(rows,
		scenario{name: "superuser", method: "POST", url: filesToken, headers: authHeader(f.authToken(t, f.super)), status: 200, check: checkFileToken(f.super)},
		scenario{name: "users token", method: "POST", url: filesToken, headers: authHeader("Bearer " + f.authToken(t, f.user)), status: 200, check: checkFileToken(f.user)},
	)
	f.run(t, rows)
}

func TestStoreFailureDoesNotLeak(t *testing.T) {
	f := newFixture(t)
	token := f.authToken(t, f.super)
	const cause = "disk I/O error at /var/lib/app/secret.db"
	f.store.setFail(fmt.Errorf("query: %s", cause))

	f.run(t, []scenario{
		{name: "login", method: "POST", url: loginSuper, headers: jsonType,
			body: loginJSON("admin@example.com", superPassword), status: 500, exact: bodyInternal},
		{name: "refresh", method: "POST", url: refreshSuper, headers: authHeader(token), status: 500, exact: bodyInternal},
		{name: "file token", method: "POST", url: filesToken, headers: authHeader(token), status: 500, exact: bodyInternal},
		{name: "guarded route", method: "GET", url: backups, headers: authHeader(token), status: 500, exact: bodyInternal},
	})
	if !strings.Contains(f.logs.String(), cause) {
		t.Errorf("the cause was not logged; logs:\n%s", f.logs.String())
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", token)
	if _, ok := f.svc.Authenticate(req); ok {
		t.Error("Authenticate succeeded while the store fails")
	}
}

package auth_test

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// TestTokenClaims decodes the tokens the routes return and checks their
// header and exact claim set.
func TestTokenClaims(t *testing.T) {
	f := newFixture(t)
	login := func(url, email, password string) string {
		status, body, _ := f.do(t, "POST", url, jsonType, loginJSON(email, password))
		if status != 200 {
			t.Fatalf("login status %d: %s", status, body)
		}
		var got struct{ Token string }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		return got.Token
	}
	superToken := login(loginSuper, "admin@example.com", superPassword)
	userToken := login(loginUsers, "user@example.com", userPassword)
	status, body, _ := f.do(t, "POST", filesToken, authHeader(superToken), "")
	if status != 200 {
		t.Fatalf("file token status %d: %s", status, body)
	}
	var ft struct{ Token string }
	if err := json.Unmarshal(body, &ft); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		token    string
		rec      auth.Record
		typ      string
		keys     []string
		lifetime time.Duration
	}{
		{"superuser auth", superToken, f.super, "auth", []string{"collectionId", "exp", "id", "refreshable", "type"}, 24 * time.Hour},
		{"user auth", userToken, f.user, "auth", []string{"collectionId", "exp", "id", "refreshable", "type"}, 7 * 24 * time.Hour},
		{"file", ft.Token, f.super, "file", []string{"collectionId", "exp", "id", "type"}, 180 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := decodeSegment(t, tc.token, 0)
			if header["alg"] != "HS256" || header["typ"] != "JWT" || len(header) != 2 {
				t.Errorf("header %v, want {alg:HS256, typ:JWT}", header)
			}
			c := decodeSegment(t, tc.token, 1)
			if ks := slices.Sorted(slices.Values(keys(c))); !slices.Equal(ks, tc.keys) {
				t.Errorf("claims %v, want keys %v", c, tc.keys)
			}
			if c["id"] != tc.rec.ID || c["collectionId"] != tc.rec.CollectionID || c["type"] != tc.typ {
				t.Errorf("claims %v, want id %s, collectionId %s, type %s", c, tc.rec.ID, tc.rec.CollectionID, tc.typ)
			}
			if tc.typ == "auth" && c["refreshable"] != true {
				t.Errorf("refreshable %v, want true", c["refreshable"])
			}
			exp, _ := c["exp"].(float64)
			if exp != math.Trunc(exp) {
				t.Errorf("exp %v is not whole seconds", exp)
			}
			want := float64(time.Now().Add(tc.lifetime).Unix())
			if math.Abs(exp-want) > 5 {
				t.Errorf("exp %v, want about now+%v (%v)", exp, tc.lifetime, want)
			}
		})
	}
}

func TestNewTokenRefusesRecordsItCannotSign(t *testing.T) {
	f := newFixture(t)
	noKey := f.super
	noKey.TokenKey = ""
	foreign := f.super
	foreign.CollectionID = "pbc_elsewhere"
	for name, rec := range map[string]auth.Record{"no token key": noKey, "unknown collection": foreign, "no id": {CollectionID: auth.SuperusersID, TokenKey: "k"}} {
		if tok, err := f.svc.NewAuthToken(rec); err == nil {
			t.Errorf("%s: NewAuthToken = %q, want an error", name, tok)
		}
		if tok, err := f.svc.NewFileToken(rec); err == nil {
			t.Errorf("%s: NewFileToken = %q, want an error", name, tok)
		}
	}
}

func TestNewTokenKey(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k := auth.NewTokenKey()
		if len(k) != 50 || strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			t.Fatalf("token key %q: want 50 alphanumeric characters", k)
		}
		if seen[k] {
			t.Fatalf("token key %q drawn twice", k)
		}
		seen[k] = true
	}
}

func TestHashPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("cost 12 takes seconds under -race")
	}
	h, err := auth.HashPassword("a password")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != 12 {
		t.Errorf("cost %d, %v; want 12", cost, err)
	}
}

func TestHashPasswordCost(t *testing.T) {
	h, err := auth.HashPasswordCost("a password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("a password")); err != nil {
		t.Errorf("hash does not match its password: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("another")); err == nil {
		t.Error("hash matches another password")
	}
	if _, err := auth.HashPasswordCost(strings.Repeat("x", 73), bcrypt.MinCost); err == nil {
		t.Error("a 73-byte password was hashed; bcrypt would ignore its end")
	}
}

func TestNewPanicsOnBadConfig(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	su := auth.Superusers()
	for _, tc := range []struct {
		name        string
		store       auth.Store
		secret      []byte
		collections []auth.Collection
		opts        []auth.Option
	}{
		{"nil store", nil, secret, []auth.Collection{su}, nil},
		{"short secret", newMemStore(), secret[:31], []auth.Collection{su}, nil},
		{"collection without id", newMemStore(), secret, []auth.Collection{{Name: "users"}}, nil},
		{"duplicate id", newMemStore(), secret, []auth.Collection{su, {ID: su.ID, Name: "users"}}, nil},
		{"duplicate name", newMemStore(), secret, []auth.Collection{su, {ID: "x", Name: su.Name}}, nil},
		{"bad cost", newMemStore(), secret, []auth.Collection{su}, []auth.Option{auth.WithBcryptCost(99)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			auth.New(tc.store, tc.secret, tc.collections, tc.opts...)
		})
	}
	auth.New(newMemStore(), secret, []auth.Collection{su}) // a good config does not panic
}

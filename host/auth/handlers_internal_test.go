package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"
)

// oneRecordStore is a real store of a single record.
type oneRecordStore struct{ rec Record }

func (s oneRecordStore) FindByEmail(_ context.Context, collectionID, email string) (Record, error) {
	if collectionID != s.rec.CollectionID || !strings.EqualFold(email, s.rec.Email) {
		return Record{}, ErrNotFound
	}
	return s.rec, nil
}

func (s oneRecordStore) FindByID(_ context.Context, collectionID, id string) (Record, error) {
	if collectionID != s.rec.CollectionID || id != s.rec.ID {
		return Record{}, ErrNotFound
	}
	return s.rec, nil
}

// TestUnknownEmail checks that a login for an unknown e-mail compares the
// password against a hash of the configured cost, exactly once, as a login
// with a wrong password does.
func TestUnknownEmail(t *testing.T) {
	const cost = bcrypt.MinCost + 1
	hash, err := HashPasswordCost("right-password", cost)
	if err != nil {
		t.Fatal(err)
	}
	store := oneRecordStore{Record{ID: "su1", CollectionID: SuperusersID, Email: "admin@example.com", PasswordHash: hash, TokenKey: NewTokenKey()}}
	s := New(store, []byte(NewTokenKey()), []Collection{Superusers()}, WithBcryptCost(cost))
	var costs []int
	s.compareHash = func(h, password []byte) error {
		c, err := bcrypt.Cost(h)
		if err != nil {
			t.Errorf("compared against a malformed hash %q: %v", h, err)
		}
		costs = append(costs, c)
		return bcrypt.CompareHashAndPassword(h, password)
	}
	r := httprouter.New()
	s.Register(r)

	for _, email := range []string{"admin@example.com", "nobody@example.com"} {
		costs = nil
		req := httptest.NewRequest(http.MethodPost, "/api/collections/_superusers/auth-with-password",
			strings.NewReader(`{"identity":"`+email+`","password":"wrong-password"}`))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Failed to authenticate.") {
			t.Fatalf("%s: %d %s", email, w.Code, w.Body)
		}
		if len(costs) != 1 || costs[0] != cost {
			t.Errorf("%s: compared against hashes of costs %v, want one of cost %d", email, costs, cost)
		}
	}
}

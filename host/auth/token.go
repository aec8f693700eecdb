package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types, in the "type" claim.
const (
	tokenTypeAuth = "auth"
	tokenTypeFile = "file"
)

// maxTokenLen bounds the tokens the service looks at; its own are far
// shorter.
const maxTokenLen = 4096

// ErrInvalidToken is returned for a token that is malformed, expired,
// badly signed, of the wrong type, of an unknown collection or of a record
// that no longer exists.
var ErrInvalidToken = errors.New("invalid or expired token")

// claims are the claims of the service's tokens, in PocketBase's shape:
// {id, collectionId, type, refreshable, exp} for auth tokens and
// {id, collectionId, type, exp} for file tokens.
type claims struct {
	ID           string           `json:"id"`
	CollectionID string           `json:"collectionId"`
	Type         string           `json:"type"`
	Refreshable  *bool            `json:"refreshable,omitempty"`
	ExpiresAt    *jwt.NumericDate `json:"exp"`
}

var _ jwt.Claims = claims{}

func (c claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c claims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c claims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c claims) GetIssuer() (string, error)                   { return "", nil }
func (c claims) GetSubject() (string, error)                  { return "", nil }
func (c claims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// NewAuthToken returns an auth token for rec, valid for its collection's
// TokenTTL.
func (s *Service) NewAuthToken(rec Record) (string, error) {
	col, ok := s.byID[rec.CollectionID]
	if !ok {
		return "", fmt.Errorf("new auth token: collection %q is not an auth collection of the service", rec.CollectionID)
	}
	refreshable := true
	return s.sign(rec, claims{Type: tokenTypeAuth, Refreshable: &refreshable}, col.TokenTTL)
}

// NewFileToken returns a file token for rec, valid for FileTokenTTL.
func (s *Service) NewFileToken(rec Record) (string, error) {
	if _, ok := s.byID[rec.CollectionID]; !ok {
		return "", fmt.Errorf("new file token: collection %q is not an auth collection of the service", rec.CollectionID)
	}
	return s.sign(rec, claims{Type: tokenTypeFile}, FileTokenTTL)
}

func (s *Service) sign(rec Record, c claims, ttl time.Duration) (string, error) {
	if rec.ID == "" || rec.TokenKey == "" {
		return "", fmt.Errorf("sign %s token: record without id or token key", c.Type)
	}
	c.ID = rec.ID
	c.CollectionID = rec.CollectionID
	c.ExpiresAt = jwt.NewNumericDate(s.now().Add(ttl))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key(rec))
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", c.Type, err)
	}
	return tok, nil
}

// key is the signing key of rec's tokens.
func (s *Service) key(rec Record) []byte {
	k := make([]byte, 0, len(rec.TokenKey)+len(s.secret))
	return append(append(k, rec.TokenKey...), s.secret...)
}

// VerifyFileToken returns the record a file token belongs to: ErrInvalidToken
// for any token that is not a valid file token, another error when the
// store fails.
func (s *Service) VerifyFileToken(ctx context.Context, token string) (Record, error) {
	rec, _, err := s.verify(ctx, token, tokenTypeFile)
	return rec, err
}

// verify checks token as a token of type typ and returns its record, with
// the collection fields set from the service's collection.
func (s *Service) verify(ctx context.Context, token, typ string) (Record, claims, error) {
	if token == "" || len(token) > maxTokenLen {
		return Record{}, claims{}, ErrInvalidToken
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))

	// The key depends on the record, so read who the token claims to be
	// first; nothing read here is trusted before the signature is checked.
	var unverified claims
	if _, _, err := p.ParseUnverified(token, &unverified); err != nil {
		return Record{}, claims{}, ErrInvalidToken
	}
	if unverified.ID == "" || unverified.Type != typ {
		return Record{}, claims{}, ErrInvalidToken
	}
	col, ok := s.byID[unverified.CollectionID]
	if !ok {
		return Record{}, claims{}, ErrInvalidToken
	}
	rec, err := s.store.FindByID(ctx, col.ID, unverified.ID)
	if errors.Is(err, ErrNotFound) {
		return Record{}, claims{}, ErrInvalidToken
	}
	if err != nil {
		return Record{}, claims{}, fmt.Errorf("find auth record: %w", err)
	}
	if rec.ID != unverified.ID || rec.TokenKey == "" {
		return Record{}, claims{}, ErrInvalidToken
	}

	var verified claims
	_, err = p.ParseWithClaims(token, &verified, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 {
			return nil, ErrInvalidToken
		}
		return s.key(rec), nil
	})
	if err != nil || verified.ID != rec.ID || verified.CollectionID != col.ID || verified.Type != typ {
		return Record{}, claims{}, ErrInvalidToken
	}
	rec.CollectionID, rec.CollectionName = col.ID, col.Name
	return rec, verified, nil
}

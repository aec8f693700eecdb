package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// tokenFromHeader returns the token of an Authorization header, sent raw
// (as the SDKs do) or as "Bearer <token>".
func tokenFromHeader(h string) string {
	h = strings.TrimSpace(h)
	const bearer = "bearer "
	if len(h) >= len(bearer) && strings.EqualFold(h[:len(bearer)], bearer) {
		h = strings.TrimSpace(h[len(bearer):])
	}
	return h
}

// authenticate checks the auth token of r's Authorization header. It
// returns ErrInvalidToken for a missing or invalid token and another error
// when the store fails.
func (s *Service) authenticate(r *http.Request) (Record, claims, error) {
	return s.verify(r.Context(), tokenFromHeader(r.Header.Get("Authorization")), tokenTypeAuth)
}

// Authenticate returns the record of a valid auth token in the
// Authorization header (raw token or "Bearer <t>"); ok is false for a
// missing, bad, expired or wrong-type token, and when the store fails (which
// is logged).
func (s *Service) Authenticate(r *http.Request) (Record, bool) {
	rec, _, err := s.authenticate(r)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			s.log().ErrorContext(r.Context(), "auth: authenticate", "err", err)
		}
		return Record{}, false
	}
	return rec, true
}

// RequireSuperuser wraps h so that it runs only for a valid superuser auth
// token: without one the response is 401, for a valid token of another
// collection 403. h finds the record with RecordFromContext.
func (s *Service) RequireSuperuser(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		rec, ok := s.requireAuth(w, r, "require superuser")
		switch {
		case !ok:
			return
		case !rec.IsSuperuser():
			jsonapi.Write(w, jsonapi.Forbidden(""))
			return
		}
		h(w, r.WithContext(ContextWithRecord(r.Context(), rec)), ps)
	}
}

// requireAuth returns the record of the request's valid auth token, or
// answers 401 (no valid token) or 500 (the store failed; logged as op)
// and returns false.
func (s *Service) requireAuth(w http.ResponseWriter, r *http.Request, op string) (Record, bool) {
	rec, _, err := s.authenticate(r)
	switch {
	case errors.Is(err, ErrInvalidToken):
		jsonapi.Write(w, jsonapi.Unauthorized())
		return Record{}, false
	case err != nil:
		s.log().ErrorContext(r.Context(), "auth: "+op, "err", err)
		jsonapi.Write(w, jsonapi.Internal())
		return Record{}, false
	}
	return rec, true
}

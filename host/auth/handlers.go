package auth

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// Messages of the auth routes.
const (
	msgFailedAuth     = "Failed to authenticate."
	msgNotRefreshable = "The current auth token is not refreshable."
)

// maxFieldLen is the longest identity or password accepted, in characters.
const maxFieldLen = 255

// Register adds, for each collection C (by name and by id):
// POST /api/collections/C/auth-with-password and
// POST /api/collections/C/auth-refresh; and POST /api/files/token.
func (s *Service) Register(r *httprouter.Router) {
	for _, c := range s.collections {
		keys := []string{c.Name}
		if c.ID != c.Name {
			keys = append(keys, c.ID)
		}
		for _, k := range keys {
			r.POST("/api/collections/"+k+"/auth-with-password", s.authWithPassword(c))
			r.POST("/api/collections/"+k+"/auth-refresh", s.authRefresh(c))
		}
	}
	r.POST("/api/files/token", s.fileToken)
}

// authResponse is the body of a successful login or refresh.
type authResponse struct {
	Token  string     `json:"token"`
	Record recordJSON `json:"record"`
}

type passwordForm struct {
	Identity string `json:"identity"`
	Password string `json:"password"`
}

// validate returns the contract's validation error for f, or nil.
func (f passwordForm) validate() *jsonapi.Error {
	var verr *jsonapi.Error
	check := func(field, v string) {
		code, msg := "", ""
		switch n := utf8.RuneCountInString(v); {
		case n == 0:
			code, msg = "validation_required", "Cannot be blank."
		case n > maxFieldLen:
			code, msg = "validation_length_out_of_range", "The length must be between 1 and 255."
		default:
			return
		}
		if verr == nil {
			verr = jsonapi.BadRequest(jsonapi.MsgValidation)
		}
		verr.WithField(field, code, msg)
	}
	check("identity", f.Identity)
	check("password", f.Password)
	return verr
}

// authWithPassword logs in under the login limits (see WithLoginLimit):
// once the body is read, a try of the client and of its pair with the
// identity is taken before anything else, and given back unless the
// credentials were wrong.
func (s *Service) authWithPassword(c Collection) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		form, apiErr := readPasswordForm(r)
		if apiErr != nil {
			jsonapi.Write(w, apiErr)
			return
		}
		if s.limiter == nil {
			if s.login(w, r, c, form) {
				s.stats.failures.Add(1)
			}
			return
		}
		held, wait, ok := s.takeTries(r, form.Identity)
		if !ok {
			s.stats.limited.Add(1)
			writeTooMany(w, wait)
			return
		}
		wrong := false
		defer func() { held.done(wrong) }() // even if login panics
		wrong = s.login(w, r, c, form)
		if wrong {
			s.stats.failures.Add(1)
		}
		if wrong && (held.pairLeft == 0 || held.clientLeft == 0) {
			scope := "identity"
			if held.clientLeft == 0 {
				scope = "address"
			}
			s.log().WarnContext(r.Context(), "auth: too many failed logins, client limited",
				"collection", c.Name, "client", held.client, "scope", scope)
		}
	}
}

// readPasswordForm reads and checks a login's body; the error is the
// contract's answer.
func readPasswordForm(r *http.Request) (passwordForm, error) {
	var form passwordForm
	if err := jsonapi.ReadBody(r, &form); err != nil {
		return form, err
	}
	if verr := form.validate(); verr != nil {
		return form, verr
	}
	return form, nil
}

// login answers a password login of a read and valid form and reports
// whether the credentials were wrong.
func (s *Service) login(w http.ResponseWriter, r *http.Request, c Collection, form passwordForm) (wrong bool) {
	rec, err := s.store.FindByEmail(r.Context(), c.ID, form.Identity)
	switch {
	case errors.Is(err, ErrNotFound):
		// Cost the same as a wrong password, so the response time does
		// not tell which e-mails exist.
		_ = s.compareHash(s.dummyHash(), []byte(form.Password))
		jsonapi.Write(w, jsonapi.BadRequest(msgFailedAuth))
		return true
	case err != nil:
		s.log().ErrorContext(r.Context(), "auth: find record by e-mail", "collection", c.Name, "err", err)
		jsonapi.Write(w, jsonapi.Internal())
		return false
	}
	err = s.compareHash([]byte(rec.PasswordHash), []byte(form.Password))
	if err != nil {
		if !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			// A malformed stored hash: the app's problem, but the client
			// gets the same answer as for a wrong password (a 500 would
			// tell that the e-mail exists).
			s.log().ErrorContext(r.Context(), "auth: compare password", "collection", c.Name, "record", rec.ID, "err", err)
		}
		jsonapi.Write(w, jsonapi.BadRequest(msgFailedAuth))
		return true
	}
	rec.CollectionID, rec.CollectionName = c.ID, c.Name
	s.writeAuth(w, r, rec)
	return false
}

func (s *Service) authRefresh(c Collection) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		rec, cl, err := s.authenticate(r)
		switch {
		case errors.Is(err, ErrInvalidToken):
			jsonapi.Write(w, jsonapi.Unauthorized())
			return
		case err != nil:
			s.log().ErrorContext(r.Context(), "auth: refresh", "collection", c.Name, "err", err)
			jsonapi.Write(w, jsonapi.Internal())
			return
		case rec.CollectionID != c.ID:
			jsonapi.Write(w, jsonapi.Forbidden(""))
			return
		case cl.Refreshable == nil || !*cl.Refreshable:
			jsonapi.Write(w, jsonapi.Forbidden(msgNotRefreshable))
			return
		}
		s.writeAuth(w, r, rec)
	}
}

// writeAuth sends a new auth token for rec with its public fields.
func (s *Service) writeAuth(w http.ResponseWriter, r *http.Request, rec Record) {
	token, err := s.NewAuthToken(rec)
	if err != nil {
		s.log().ErrorContext(r.Context(), "auth: new auth token", "record", rec.ID, "err", err)
		jsonapi.Write(w, jsonapi.Internal())
		return
	}
	jsonapi.WriteJSON(w, http.StatusOK, authResponse{Token: token, Record: publicRecord(rec)})
}

func (s *Service) fileToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	rec, ok := s.requireAuth(w, r, "file token")
	if !ok {
		return
	}
	token, err := s.NewFileToken(rec)
	if err != nil {
		s.log().ErrorContext(r.Context(), "auth: new file token", "record", rec.ID, "err", err)
		jsonapi.Write(w, jsonapi.Internal())
		return
	}
	jsonapi.WriteJSON(w, http.StatusOK, struct {
		Token string `json:"token"`
	}{token})
}

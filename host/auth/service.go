// Package auth implements the host's record authentication the PocketBase
// and BosBase JS SDKs rely on: password login, token refresh and file tokens
// for the auth collections (superusers and, optionally, users), the
// Authorization header check and the superuser guard of the API.
//
// Tokens are HS256 JWTs signed with a per-record key (the record's TokenKey,
// which changes with its password) followed by a per-app secret, so changing
// a password or the secret invalidates every token issued before. Records
// are read through Store, which the app implements over its database.
// Failed password logins are limited per client address and identity, and
// more loosely per client address (WithLoginLimit); behind a reverse proxy
// the client address comes from the proxy's forwarding headers
// (WithTrustedProxies).
package auth

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/clientip"
)

// Names and ids of PocketBase's built-in superusers collection.
const (
	SuperusersName = "_superusers"
	SuperusersID   = "pbc_3142635823" // PocketBase's fixed collection id for _superusers
)

// Token lifetimes PocketBase uses by default.
const (
	SuperuserTokenTTL = 24 * time.Hour
	UserTokenTTL      = 7 * 24 * time.Hour
	FileTokenTTL      = 180 * time.Second
)

// DefaultBcryptCost is the bcrypt cost PocketBase hashes passwords with.
const DefaultBcryptCost = 12

// MinSecretLen is the shortest per-app secret New accepts.
const MinSecretLen = 32

// Collection is an auth collection: records in it can log in.
type Collection struct {
	ID       string
	Name     string
	TokenTTL time.Duration // lifetime of its auth tokens
}

// Superusers returns PocketBase's _superusers collection with its default
// token lifetime.
func Superusers() Collection {
	return Collection{ID: SuperusersID, Name: SuperusersName, TokenTTL: SuperuserTokenTTL}
}

// Service issues and checks auth tokens for a fixed set of collections.
// It is safe for concurrent use.
type Service struct {
	store       Store
	secret      []byte
	collections []Collection
	byID        map[string]Collection
	logger      *slog.Logger // nil: slog.Default() at the time of logging
	cost        int
	now         func() time.Time
	dummyHash   func() []byte
	compareHash func(hash, password []byte) error // bcrypt's; tests count calls

	loginBurst  int
	loginEvery  time.Duration
	addrBurst   int
	addrEvery   time.Duration
	proxies     clientip.Proxies // WithTrustedProxies'
	limiter     *loginLimiter    // per client and identity; nil when logins are not limited
	addrLimiter *loginLimiter    // per client; nil when off
	stats       loginStats
}

// Option configures a Service.
type Option func(*Service)

// WithLogger sends the service's logs to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) { s.logger = l }
}

// WithBcryptCost sets the cost of the dummy hash a login for an unknown
// e-mail is compared against; it should match the cost of stored hashes
// (DefaultBcryptCost unless tests store cheaper ones).
func WithBcryptCost(cost int) Option {
	return func(s *Service) { s.cost = cost }
}

// WithClock makes the service read the time from now instead of time.Now:
// for token expiry and the login limit. Tests pass a fake clock.
func WithClock(now func() time.Time) Option {
	return func(s *Service) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns a service over store for collections. secret is the per-app
// secret (at least MinSecretLen bytes) mixed into every signing key:
// key = record.TokenKey + secret. A collection without TokenTTL gets
// SuperuserTokenTTL for _superusers and UserTokenTTL otherwise.
//
// New panics on a configuration no service can run with: a nil store, a
// short secret, a collection without id or name, duplicate ids or names, an
// invalid bcrypt cost, or a login limit with burst > 0 and every <= 0 (or
// so long that burst*every overflows a time.Duration).
func New(store Store, secret []byte, collections []Collection, opts ...Option) *Service {
	if store == nil {
		panic("auth: nil store")
	}
	if len(secret) < MinSecretLen {
		panic(fmt.Sprintf("auth: secret must be at least %d bytes", MinSecretLen))
	}
	s := &Service{
		store:  store,
		secret: append([]byte(nil), secret...),
		byID:   make(map[string]Collection, len(collections)),
		cost:   DefaultBcryptCost,
		now:    time.Now,

		compareHash: bcrypt.CompareHashAndPassword,
		loginBurst:  DefaultLoginBurst,
		loginEvery:  DefaultLoginRefill,
		addrBurst:   DefaultAddressLoginBurst,
		addrEvery:   DefaultAddressLoginRefill,
	}
	names := make(map[string]bool, len(collections))
	for _, c := range collections {
		if c.ID == "" || c.Name == "" {
			panic("auth: collection without id or name")
		}
		if _, dup := s.byID[c.ID]; dup || names[c.Name] {
			panic(fmt.Sprintf("auth: duplicate collection %q (%s)", c.Name, c.ID))
		}
		if c.TokenTTL <= 0 {
			c.TokenTTL = UserTokenTTL
			if c.Name == SuperusersName {
				c.TokenTTL = SuperuserTokenTTL
			}
		}
		s.byID[c.ID] = c
		names[c.Name] = true
		s.collections = append(s.collections, c)
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.cost < bcrypt.MinCost || s.cost > bcrypt.MaxCost {
		panic(fmt.Sprintf("auth: invalid bcrypt cost %d", s.cost))
	}
	if s.loginBurst > 0 {
		checkLimit(s.loginBurst, s.loginEvery)
		s.limiter = newLoginLimiter(s.loginBurst, s.loginEvery, maxLoginClients, s.now)
		if s.addrBurst > 0 {
			checkLimit(s.addrBurst, s.addrEvery)
			s.addrLimiter = newLoginLimiter(s.addrBurst, s.addrEvery, maxLoginClients, s.now)
		}
	}
	s.dummyHash = sync.OnceValue(func() []byte { return newDummyHash(s.cost) })
	return s
}

// checkLimit panics on a login limit no limiter can run with.
func checkLimit(burst int, every time.Duration) {
	if every <= 0 || every > math.MaxInt64/time.Duration(burst) {
		panic(fmt.Sprintf("auth: login limit of %d tries refilled every %v", burst, every))
	}
}

func (s *Service) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}

package auth

import (
	"container/list"
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/clientip"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// Defaults of the login limits (see WithLoginLimit and
// WithAddressLoginLimit).
const (
	DefaultLoginBurst         = 5
	DefaultLoginRefill        = 10 * time.Second
	DefaultAddressLoginBurst  = 20
	DefaultAddressLoginRefill = 2 * time.Second
)

// maxLoginClients bounds the clients (and, separately, the client and
// identity pairs) the login limits track at once; past it, the least
// recently seen is forgotten.
const maxLoginClients = 10_000

// WithLoginLimit sets how failed password logins are limited per client
// address and identity (by default DefaultLoginBurst and
// DefaultLoginRefill): each pair has burst tries, a login with wrong
// credentials uses one up, and one comes back every every. A pair with
// none left gets 429 "Too many requests." (with Retry-After) before its
// credentials are looked at; so, once it is limited, even the right
// password waits until a try is back. The identity is the login's e-mail,
// case-insensitive, whichever auth collection it is sent to. Failures from
// one address are also limited all identities together, more loosely (see
// WithAddressLoginLimit), so an attacker guessing for the administrator
// from elsewhere never locks the administrator out, and one guessing many
// identities is still slowed down.
//
// Only wrong credentials count: a success, a validation error or a server
// error gives its try back, so a client that has not used up its burst is
// never refused. A try is taken once the body is read and given back when
// the login ends, so no number of parallel requests gets more than the
// tries left as wrong guesses through: a login that finds the tries left
// all held by logins of its pair still going on waits for them to end (the
// only delay a client with tries left can see, and only with more than
// burst logins at once). A body that is slow to arrive holds no try.
// burst <= 0 turns both limits off; New panics for burst > 0 with every
// <= 0.
//
// A client is the address clientip finds for the request (see
// WithTrustedProxies), an IPv6 address counting as its /64 (what one host
// or home usually gets). At most 10,000 clients and 10,000 pairs are
// tracked, the least recently seen forgotten first.
func WithLoginLimit(burst int, every time.Duration) Option {
	return func(s *Service) { s.loginBurst, s.loginEvery = burst, every }
}

// WithAddressLoginLimit sets the looser limit on failed logins from one
// client address, whatever the identities tried (by default
// DefaultAddressLoginBurst and DefaultAddressLoginRefill). It works as
// WithLoginLimit's; burst <= 0 turns it off (the per-identity limit stays).
func WithAddressLoginLimit(burst int, every time.Duration) Option {
	return func(s *Service) { s.addrBurst, s.addrEvery = burst, every }
}

// WithTrustedProxies makes the service believe the X-Forwarded-For and
// X-Real-IP headers of requests whose peer is one of proxies (see package
// clientip): behind a reverse proxy, every client would otherwise share
// the proxy's address, and one attacker's failures would limit everyone.
// Those headers from any other peer are never believed. None by default.
func WithTrustedProxies(proxies clientip.Proxies) Option {
	return func(s *Service) { s.proxies = proxies }
}

// Proxies returns the trusted proxies the service was given.
func (s *Service) Proxies() clientip.Proxies { return s.proxies }

// ClientIP returns the client address of r that the login limits count
// (before an IPv6 address is widened to its /64), or RemoteAddr as it is
// when that is not an IP address.
func (s *Service) ClientIP(r *http.Request) string {
	if a, ok := s.proxies.Client(r); ok {
		return a.String()
	}
	return r.RemoteAddr
}

// clientKey returns the key of r's client for the login limits.
func (s *Service) clientKey(r *http.Request) string {
	if a, ok := s.proxies.Client(r); ok {
		return addrKey(a)
	}
	return r.RemoteAddr // not IP (a unix socket): such clients share one key
}

// pairKey is the key of a client and an identity for the login limit.
func pairKey(client, identity string) string {
	return client + " " + strings.ToLower(identity)
}

// addrKey is an IPv4 address as is, an IPv6 address as its /64.
func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64) // cannot fail for an IPv6 address
	return p.String()
}

// tries are the login tries one login holds: one of its client's and one
// of its pair's.
type tries struct {
	s                    *Service
	client, pair         string
	clientLeft, pairLeft int
}

// takeTries takes a try of r's client and of its pair with identity. With
// none left in either it returns ok false and how long until one is back.
func (s *Service) takeTries(r *http.Request, identity string) (t tries, wait time.Duration, ok bool) {
	t = tries{s: s, client: s.clientKey(r), clientLeft: -1}
	t.pair = pairKey(t.client, identity)
	if s.addrLimiter != nil {
		if t.clientLeft, wait, ok = s.addrLimiter.take(r.Context(), t.client); !ok {
			return tries{}, wait, false
		}
	}
	if t.pairLeft, wait, ok = s.limiter.take(r.Context(), t.pair); !ok {
		if s.addrLimiter != nil {
			s.addrLimiter.done(t.client, false)
		}
		return tries{}, wait, false
	}
	return t, 0, true
}

// done gives the tries back unless the credentials were wrong.
func (t tries) done(wrong bool) {
	t.s.limiter.done(t.pair, wrong)
	if t.s.addrLimiter != nil {
		t.s.addrLimiter.done(t.client, wrong)
	}
}

// writeTooMany sends the contract's 429 with a Retry-After of wait.
func writeTooMany(w http.ResponseWriter, wait time.Duration) {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	jsonapi.Write(w, jsonapi.New(http.StatusTooManyRequests, jsonapi.MsgTooMany))
}

// loginLimiter is a token bucket per client, kept as the time its bucket
// is full again (GCRA): a client has a try left while that time is at most
// (burst-1)*every ahead. A try is taken when a login starts and given back
// when it ends unless the credentials were wrong. A login that finds no try
// left only because other logins of its client are still going on waits for
// them to end instead of being refused. Clients whose bucket is full and
// who have no login going on are not kept, and at most max are, the least
// recently seen forgotten first. It is safe for concurrent use.
type loginLimiter struct {
	burst int
	every time.Duration
	max   int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // values: *bucket
	lru     list.List                // most recently seen at the front
}

type bucket struct {
	key      string
	full     time.Time     // when the bucket is full again, tries going on counted as used
	inFlight int           // logins going on; a bucket with some is never forgotten
	ended    chan struct{} // closed when one of them ends; nil while nobody waits
}

func newLoginLimiter(burst int, every time.Duration, maxClients int, now func() time.Time) *loginLimiter {
	return &loginLimiter{burst: burst, every: every, max: maxClients, now: now, clients: map[string]*list.Element{}}
}

// take takes a try for client key, and returns the tries left. With none
// left it returns ok false and how long until one is back. When tries are
// left but held by logins going on, it waits for those to end (or for ctx
// to, which it reports as no try left).
func (l *loginLimiter) take(ctx context.Context, key string) (left int, wait time.Duration, ok bool) {
	limit := time.Duration(l.burst-1) * l.every
	for {
		now := l.now()
		l.mu.Lock()
		b := l.get(key, now)
		ahead := max(b.full.Sub(now), 0) // the tries used, as time
		if ahead <= limit {
			b.full = now.Add(ahead + l.every)
			b.inFlight++
			l.mu.Unlock()
			return int((limit - ahead) / l.every), 0, true
		}
		failed := ahead - time.Duration(b.inFlight)*l.every // the tries used by wrong credentials
		if b.inFlight == 0 || failed > limit {
			l.mu.Unlock()
			return 0, failed - limit, false
		}
		if b.ended == nil {
			b.ended = make(chan struct{})
		}
		ended := b.ended
		l.mu.Unlock()
		select {
		case <-ended:
		case <-ctx.Done():
			return 0, l.every, false
		}
	}
}

// done ends a login of client key that take let through; wrong tells
// whether its credentials were wrong, which keeps its try used.
func (l *loginLimiter) done(key string, wrong bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.clients[key]
	if !ok {
		return // cannot happen: a bucket with logins going on is kept
	}
	b := e.Value.(*bucket)
	b.inFlight--
	if !wrong {
		b.full = b.full.Add(-l.every)
	}
	if b.ended != nil {
		close(b.ended)
		b.ended = nil
	}
	if b.inFlight == 0 && !b.full.After(now) {
		l.remove(e)
	}
}

// get returns the bucket of key, new (and full) if it has none, and marks
// it the most recently seen. l.mu is held.
func (l *loginLimiter) get(key string, now time.Time) *bucket {
	l.sweep(now)
	if e, ok := l.clients[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*bucket)
	}
	for len(l.clients) >= l.max {
		if !l.evict() {
			break // all have logins going on: over max, for as long as those last
		}
	}
	b := &bucket{key: key, full: now}
	l.clients[key] = l.lru.PushFront(b)
	return b
}

// evict forgets the least recently seen client with no login going on,
// and reports whether there was one. l.mu is held.
func (l *loginLimiter) evict() bool {
	for e := l.lru.Back(); e != nil; e = e.Prev() {
		if e.Value.(*bucket).inFlight == 0 {
			l.remove(e)
			return true
		}
	}
	return false
}

// sweep forgets a few least recently seen clients whose bucket is full
// again, so that the map shrinks as clients calm down. l.mu is held.
func (l *loginLimiter) sweep(now time.Time) {
	for range 2 {
		e := l.lru.Back()
		if e == nil {
			return
		}
		if b := e.Value.(*bucket); b.inFlight > 0 || b.full.After(now) {
			return
		}
		l.remove(e)
	}
}

func (l *loginLimiter) remove(e *list.Element) {
	delete(l.clients, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

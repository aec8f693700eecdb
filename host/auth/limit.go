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

	"github.com/pocketbackup/pocketbackup/host/apierror"
)

// Defaults of the login limit (see WithLoginLimit).
const (
	DefaultLoginBurst  = 5
	DefaultLoginRefill = 10 * time.Second
)

// maxLoginClients bounds the clients the login limit tracks at once; past
// it, the least recently seen is forgotten.
const maxLoginClients = 10_000

// WithLoginLimit sets how failed password logins are limited per client
// (by default DefaultLoginBurst and DefaultLoginRefill): each client has
// burst tries, a login with wrong credentials uses one up, and one comes
// back every every. A client with none left gets 429 "Too many requests."
// (with Retry-After) before its credentials are looked at; so, once it is
// limited, even the right password waits until a try is back.
//
// Only wrong credentials count: a success, a validation error or a server
// error gives its try back, so a client that has not used up its burst is
// never refused. A try is taken as the request starts and given back when it
// ends, so no number of parallel requests gets more than the tries left as
// wrong guesses through: a login that finds the tries left all held by
// logins of its client still going on waits for them to end (the only
// delay a client with tries left can see, and only with more than burst
// logins at once). All the service's collections share the tries of a
// client. burst <= 0 turns the limit off; New panics for burst > 0 with
// every <= 0.
//
// A client is the IP address of the request's RemoteAddr, an IPv6 address
// counting as its /64 (what one host or home usually gets); see
// WithTrustedProxyHeader behind a reverse proxy. At most 10,000 clients are
// tracked, the least recently seen forgotten first.
func WithLoginLimit(burst int, every time.Duration) Option {
	return func(s *Service) { s.loginBurst, s.loginEvery = burst, every }
}

// WithTrustedProxyHeader takes a client's address for the login limit from
// the first value of header name (e.g. "X-Forwarded-For"), falling back on
// RemoteAddr when it is missing or not an IP address. Set it only behind a
// reverse proxy that writes that header itself: a proxy that appends to an
// X-Forwarded-For the client sent leaves the client's own value first, and
// a client could then pick a new address for every try. Off by default.
func WithTrustedProxyHeader(name string) Option {
	return func(s *Service) { s.proxyHeader = name }
}

// clientKey returns the key of r's client for the login limit.
func (s *Service) clientKey(r *http.Request) string {
	if s.proxyHeader != "" {
		if v := r.Header.Get(s.proxyHeader); v != "" {
			first, _, _ := strings.Cut(v, ",")
			if a, ok := parseAddr(strings.TrimSpace(first)); ok {
				return addrKey(a)
			}
		}
	}
	if a, ok := parseAddr(r.RemoteAddr); ok {
		return addrKey(a)
	}
	return r.RemoteAddr // not IP (a unix socket): such clients share one key
}

// parseAddr parses "ip" or "ip:port" ("[ipv6]:port").
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
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

// writeTooMany sends the contract's 429 with a Retry-After of wait.
func writeTooMany(w http.ResponseWriter, wait time.Duration) {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	apierror.Write(w, apierror.New(http.StatusTooManyRequests, apierror.MsgTooMany))
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

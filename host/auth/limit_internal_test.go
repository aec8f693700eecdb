package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/clientip"
)

// stepClock is a time source tests move by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tracked returns the number of clients l keeps, checking that its map
// and list agree.
func (l *loginLimiter) tracked(t *testing.T) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clients) != l.lru.Len() {
		t.Fatalf("map holds %d clients, list %d", len(l.clients), l.lru.Len())
	}
	return len(l.clients)
}

// fail records a wrong login of key.
func (l *loginLimiter) fail(t *testing.T, key string) bool {
	t.Helper()
	_, _, ok := l.take(t.Context(), key)
	if ok {
		l.done(key, true)
	}
	return ok
}

func TestLoginLimiterBounded(t *testing.T) {
	clk := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLoginLimiter(DefaultLoginBurst, DefaultLoginRefill, maxLoginClients, clk.now)
	for i := range 50_000 {
		key := fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&0xff, i&0xff)
		if i%2 == 1 {
			key = fmt.Sprintf("2001:db8:%x::/64", i)
		}
		if !l.fail(t, key) {
			t.Fatalf("client %d refused on its first failure", i)
		}
		if n := l.tracked(t); n > maxLoginClients {
			t.Fatalf("after %d clients, %d tracked", i+1, n)
		}
	}
	if n := l.tracked(t); n != maxLoginClients {
		t.Errorf("%d clients tracked, want the cap %d", n, maxLoginClients)
	}
	// The most recent clients are still remembered; the first are not.
	last := fmt.Sprintf("2001:db8:%x::/64", 49_999)
	for range DefaultLoginBurst - 1 {
		if !l.fail(t, last) {
			t.Fatal("the last client was refused before its burst was used")
		}
	}
	if l.fail(t, last) {
		t.Error("the last client was not limited: it was forgotten")
	}
	l.mu.Lock()
	_, first := l.clients["10.0.0.0"]
	l.mu.Unlock()
	if first {
		t.Error("the least recently seen client is still tracked")
	}
}

func TestLoginLimiterForgetsCalmClients(t *testing.T) {
	clk := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLoginLimiter(DefaultLoginBurst, DefaultLoginRefill, maxLoginClients, clk.now)
	for i := range 100 {
		key := fmt.Sprintf("192.0.2.%d", i)
		if _, _, ok := l.take(t.Context(), key); !ok {
			t.Fatal("refused")
		}
		l.done(key, false) // a success
	}
	if n := l.tracked(t); n != 0 {
		t.Errorf("%d clients tracked after successes only", n)
	}
	l.fail(t, "a")
	l.fail(t, "b")
	l.fail(t, "b")
	clk.advance(DefaultLoginRefill) // a's bucket is full again, b's not
	l.fail(t, "c")                  // sweeps a
	if n := l.tracked(t); n != 2 {
		t.Errorf("%d clients tracked, want b and c", n)
	}
}

func TestLoginLimiterKeepsClientsWithLoginsGoingOn(t *testing.T) {
	clk := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLoginLimiter(2, time.Second, 2, clk.now)
	for _, k := range []string{"a", "b", "c"} {
		if _, _, ok := l.take(t.Context(), k); !ok {
			t.Fatal("refused")
		}
	}
	if n := l.tracked(t); n != 3 {
		t.Fatalf("%d tracked; none of a, b, c could be forgotten", n)
	}
	for _, k := range []string{"a", "b", "c"} {
		l.done(k, true)
	}
	l.fail(t, "d") // back under the cap
	if n := l.tracked(t); n != 2 {
		t.Errorf("%d tracked, want the cap 2", n)
	}
}

// TestLoginLimiterWaitsForLoginsGoingOn checks that a login finding the
// tries left held by logins still going on waits for them: refused if they
// fail, let through if they succeed.
func TestLoginLimiterWaitsForLoginsGoingOn(t *testing.T) {
	clk := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLoginLimiter(2, time.Minute, maxLoginClients, clk.now)
	for range 2 {
		if _, _, ok := l.take(t.Context(), "k"); !ok {
			t.Fatal("refused")
		}
	}
	result := make(chan bool, 1)
	go func() {
		_, _, ok := l.take(context.Background(), "k")
		result <- ok
	}()
	waitForWaiter(t, l, "k")
	l.done("k", true) // one failed: the waiter still waits for the other
	waitForWaiter(t, l, "k")
	l.done("k", false) // the other succeeded: its try is free
	select {
	case ok := <-result:
		if !ok {
			t.Fatal("refused although a try was given back")
		}
	case <-time.After(10 * time.Second): // failsafe only
		t.Fatal("still waiting")
	}

	go func() {
		_, _, ok := l.take(context.Background(), "k")
		result <- ok
	}()
	waitForWaiter(t, l, "k")
	l.done("k", true)
	if ok := <-result; ok {
		t.Fatal("let through although every try failed")
	}

	// A waiter gives up with its context.
	l2 := newLoginLimiter(1, time.Minute, maxLoginClients, clk.now)
	l2.take(t.Context(), "k")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		_, _, ok := l2.take(ctx, "k")
		result <- ok
	}()
	waitForWaiter(t, l2, "k")
	cancel()
	if ok := <-result; ok {
		t.Fatal("let through after its context ended")
	}
}

// waitForWaiter returns once a take of key waits on l. It polls l's state
// record, as nothing else tells.
func waitForWaiter(t *testing.T, l *loginLimiter, key string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		e, ok := l.clients[key]
		waiting := ok && e.Value.(*bucket).ended != nil
		l.mu.Unlock()
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no take waits")
		}
	}
}

// countingStore is a oneRecordStore that counts lookups.
type countingStore struct {
	oneRecordStore
	mu    sync.Mutex
	finds int
}

func (s *countingStore) FindByEmail(ctx context.Context, collectionID, email string) (Record, error) {
	s.mu.Lock()
	s.finds++
	s.mu.Unlock()
	return s.oneRecordStore.FindByEmail(ctx, collectionID, email)
}

// TestLimitedLoginDoesNoWork checks that a limited client's login is
// answered before the store or bcrypt is asked anything.
func TestLimitedLoginDoesNoWork(t *testing.T) {
	hash, err := HashPasswordCost("right-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{oneRecordStore: oneRecordStore{Record{ID: "su1", CollectionID: SuperusersID,
		Email: "admin@example.com", PasswordHash: hash, TokenKey: NewTokenKey()}}}
	s := New(store, []byte(NewTokenKey()), []Collection{Superusers()}, WithBcryptCost(bcrypt.MinCost))
	compares := 0
	s.compareHash = func(h, password []byte) error {
		compares++
		return bcrypt.CompareHashAndPassword(h, password)
	}
	r := httprouter.New()
	s.Register(r)
	login := func(password string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/collections/_superusers/auth-with-password",
			strings.NewReader(`{"identity":"admin@example.com","password":"`+password+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.1:1"
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	for range DefaultLoginBurst {
		if code := login("wrong"); code != http.StatusBadRequest {
			t.Fatalf("status %d", code)
		}
	}
	finds, cmp := store.finds, compares
	for _, pw := range []string{"wrong", "right-password"} {
		if code := login(pw); code != http.StatusTooManyRequests {
			t.Fatalf("%s: status %d, want 429", pw, code)
		}
	}
	if store.finds != finds || compares != cmp {
		t.Errorf("limited logins made %d lookups and %d hash comparisons, want none", store.finds-finds, compares-cmp)
	}
}

// TestLoginLimitBoundedThroughHandler checks the cap through the route:
// many clients each failing once leave at most the cap tracked.
func TestLoginLimitBoundedThroughHandler(t *testing.T) {
	s := New(oneRecordStore{}, []byte(NewTokenKey()), []Collection{Superusers()}, WithBcryptCost(bcrypt.MinCost))
	s.limiter.max, s.addrLimiter.max = 10, 10
	r := httprouter.New()
	s.Register(r)
	for i := range 40 {
		req := httptest.NewRequest(http.MethodPost, "/api/collections/_superusers/auth-with-password",
			strings.NewReader(`{"identity":"nobody@example.com","password":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = fmt.Sprintf("[2001:db8:%x::1]:443", i)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("client %d: status %d", i, w.Code)
		}
	}
	if n := s.limiter.tracked(t); n != 10 {
		t.Errorf("%d client and identity pairs tracked, want the cap 10", n)
	}
	if n := s.addrLimiter.tracked(t); n != 10 {
		t.Errorf("%d clients tracked, want the cap 10", n)
	}
}

func TestClientKey(t *testing.T) {
	plain := New(oneRecordStore{}, []byte(NewTokenKey()), []Collection{Superusers()})
	proxies, err := clientip.Parse("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	proxied := New(oneRecordStore{}, []byte(NewTokenKey()), []Collection{Superusers()}, WithTrustedProxies(proxies))
	for _, tc := range []struct {
		svc          *Service
		remote, xrip string
		want         string
	}{
		{plain, "192.0.2.1:1234", "", "192.0.2.1"},
		{plain, "192.0.2.1", "", "192.0.2.1"},
		{plain, "[::ffff:192.0.2.1]:1", "", "192.0.2.1"},
		{plain, "[2001:db8:a:b:c:d:e:f]:1", "", "2001:db8:a:b::/64"},
		{plain, "[fe80::1%eth0]:1", "", "fe80::/64"},
		{plain, "[::1]:1", "", "::/64"},
		{plain, "192.0.2.1:1234", "203.0.113.5", "192.0.2.1"},
		{plain, "@", "", "@"},
		{plain, "", "", ""},
		{proxied, "10.0.0.1:1", "203.0.113.5", "203.0.113.5"},
		{proxied, "10.0.0.1:1", "2001:db8::1", "2001:db8::/64"},
		{proxied, "10.0.0.1:1", "[2001:db8::1]:80", "2001:db8::/64"},
		{proxied, "10.0.0.1:1", "not-an-ip", "10.0.0.1"},
		{proxied, "10.0.0.1:1", "", "10.0.0.1"},
		{proxied, "192.0.2.1:1", "203.0.113.5", "192.0.2.1"}, // not a trusted peer
	} {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.RemoteAddr = tc.remote
		if tc.xrip != "" {
			req.Header.Set("X-Real-IP", tc.xrip)
		}
		if got := tc.svc.clientKey(req); got != tc.want {
			t.Errorf("proxies %v, RemoteAddr %q, X-Real-IP %q: key %q, want %q", tc.svc.proxies, tc.remote, tc.xrip, got, tc.want)
		}
	}
}

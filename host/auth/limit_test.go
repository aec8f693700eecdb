package auth_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/clientip"
)

const bodyTooMany = `{"status":429,"message":"Too many requests.","data":{}}`

// fakeClock is a settable time source for auth.WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// limitFixture is a fixture whose service reads the time from a fake clock.
func limitFixture(t *testing.T, opts ...auth.Option) (*fixture, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	return newFixture(t, append([]auth.Option{auth.WithClock(clk.now)}, opts...)...), clk
}

type response struct {
	status int
	body   string
	header http.Header
}

// loginFrom posts a JSON login to path as if from remote, with extra
// headers in hdr (name, value pairs).
func (f *fixture) loginFrom(t *testing.T, remote, path, identity, password string, hdr ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(loginJSON(identity, password)))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	return response{w.Code, string(body), w.Result().Header}
}

// wrong logs in to _superusers with a wrong password from remote.
func (f *fixture) wrong(t *testing.T, remote string, hdr ...string) response {
	t.Helper()
	return f.loginFrom(t, remote, loginSuper, "admin@example.com", "wrong-password", hdr...)
}

// right logs in to _superusers with the right password from remote.
func (f *fixture) right(t *testing.T, remote string, hdr ...string) response {
	t.Helper()
	return f.loginFrom(t, remote, loginSuper, "admin@example.com", superPassword, hdr...)
}

// expect checks a response's status and, when set, its exact JSON body.
func expect(t *testing.T, what string, r response, status int, body string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if body != "" {
		assertJSONEqual(t, []byte(r.body), body)
	}
}

// expectLimited checks a 429 and its Retry-After.
func expectLimited(t *testing.T, what string, r response, retryAfter string) {
	t.Helper()
	expect(t, what, r, 429, bodyTooMany)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if got := r.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", what, got, retryAfter)
	}
}

// failFive uses up remote's burst with wrong passwords, each a 400.
func (f *fixture) failFive(t *testing.T, remote string, hdr ...string) {
	t.Helper()
	for i := range auth.DefaultLoginBurst {
		expect(t, "wrong password "+string(rune('1'+i)), f.wrong(t, remote, hdr...), 400, bodyFailedAuth)
	}
}

func TestLoginLimit(t *testing.T) {
	f, clk := limitFixture(t)
	const ip, other = "192.0.2.1:1234", "192.0.2.2:1234"

	f.failFive(t, ip)
	expectLimited(t, "6th wrong password", f.wrong(t, ip), "10")
	expectLimited(t, "right password while limited", f.right(t, ip), "10")
	expect(t, "another address, wrong", f.wrong(t, other), 400, bodyFailedAuth)
	expect(t, "another address, right", f.right(t, other), 200, "")
	expect(t, "same address, other port", f.wrong(t, "192.0.2.1:9999"), 429, bodyTooMany)

	clk.advance(9 * time.Second)
	expectLimited(t, "after 9 s", f.wrong(t, ip), "1")
	clk.advance(time.Second)
	expect(t, "after 10 s", f.wrong(t, ip), 400, bodyFailedAuth)
	expectLimited(t, "right after", f.wrong(t, ip), "10")

	clk.advance(10 * time.Second)
	expect(t, "right password after the refill", f.right(t, ip), 200, "")
	expect(t, "the success gave its try back", f.wrong(t, ip), 400, bodyFailedAuth)
	expectLimited(t, "and that was the last", f.wrong(t, ip), "10")

	clk.advance(time.Minute) // the whole burst is back
	f.failFive(t, ip)
	expectLimited(t, "burst used up again", f.wrong(t, ip), "10")

	if logs := f.logs.String(); !strings.Contains(logs, "client limited") || !strings.Contains(logs, "client=192.0.2.1 ") {
		t.Errorf("limiting was not logged with the client:\n%s", logs)
	}
}

func TestLoginLimitSuccessesDoNotCount(t *testing.T) {
	f, _ := limitFixture(t)
	const ip = "198.51.100.7:40000"
	for range auth.DefaultLoginBurst - 1 {
		expect(t, "wrong", f.wrong(t, ip), 400, bodyFailedAuth)
	}
	for range 20 {
		expect(t, "right", f.right(t, ip), 200, "")
	}
	expect(t, "5th wrong", f.wrong(t, ip), 400, bodyFailedAuth)
	expectLimited(t, "6th wrong", f.wrong(t, ip), "10")
}

func TestLoginLimitOnlyWrongCredentialsCount(t *testing.T) {
	f, _ := limitFixture(t)
	const ip = "198.51.100.8:1"
	for range 10 {
		expect(t, "blank password", f.loginFrom(t, ip, loginSuper, "admin@example.com", ""), 400,
			validationBody(map[string]string{"password": "validation_required"}))
	}
	for range 10 {
		req := httptest.NewRequest(http.MethodPost, loginSuper, strings.NewReader(`{"identity":`))
		req.RemoteAddr = ip
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, req)
		expect(t, "malformed body", response{status: w.Code, body: w.Body.String()}, 400, bodyBadRequest)
	}
	f.store.setFail(io.ErrUnexpectedEOF)
	for range 10 {
		expect(t, "store failure", f.wrong(t, ip), 500, bodyInternal)
	}
	f.store.setFail(nil)
	for range auth.DefaultLoginBurst - 1 {
		expect(t, "wrong", f.wrong(t, ip), 400, bodyFailedAuth)
	}
	expect(t, "5th failure", f.wrong(t, ip), 400, bodyFailedAuth)
	expectLimited(t, "6th failure", f.wrong(t, ip), "10")
	for range auth.DefaultLoginBurst {
		expect(t, "unknown e-mail", f.loginFrom(t, ip, loginSuper, "nobody@example.com", "x"), 400, bodyFailedAuth)
	}
	expectLimited(t, "unknown e-mail, 6th", f.loginFrom(t, ip, loginSuper, "nobody@example.com", "x"), "10")
}

// TestLoginLimitPerIdentity: failures count per client and identity, so
// an attacker guessing the administrator's password from another address
// never locks the administrator out; guessing other identities from the
// administrator's own address does not either, until the looser
// per-address cap.
func TestLoginLimitPerIdentity(t *testing.T) {
	f, _ := limitFixture(t)
	const admin, attacker = "192.0.2.1:1", "192.0.2.66:1"
	f.failFive(t, attacker)
	expectLimited(t, "attacker, admin's identity", f.wrong(t, attacker), "10")
	expect(t, "admin from its own address", f.right(t, admin), 200, "")

	for range 3 {
		expect(t, "wrong for user on users", f.loginFrom(t, admin, loginUsers, "user@example.com", "nope"), 400, bodyFailedAuth)
	}
	for range 2 {
		expect(t, "wrong for user on superusers", f.loginFrom(t, admin, loginSuper, "USER@example.com", "nope"), 400, bodyFailedAuth)
	}
	expectLimited(t, "the identity is shared by collections and case", f.loginFrom(t, admin, loginUsers, "user@example.com", userPassword), "10")
	expect(t, "another identity from the same address", f.right(t, admin), 200, "")
}

// TestLoginLimitPerAddress: one address guessing many identities is
// limited as a whole, looser than per identity.
func TestLoginLimitPerAddress(t *testing.T) {
	f, clk := limitFixture(t)
	const ip = "198.51.100.20:1"
	for i := range auth.DefaultAddressLoginBurst {
		expect(t, "wrong", f.loginFrom(t, ip, loginSuper, fmt.Sprintf("guess%d@example.com", i), "x"), 400, bodyFailedAuth)
	}
	expectLimited(t, "next identity", f.loginFrom(t, ip, loginSuper, "fresh@example.com", "x"), "2")
	expectLimited(t, "even the right password", f.right(t, ip), "2")
	expect(t, "another address", f.right(t, "198.51.100.21:1"), 200, "")
	clk.advance(auth.DefaultAddressLoginRefill)
	expect(t, "after the refill", f.right(t, ip), 200, "")

	off, _ := limitFixture(t, auth.WithAddressLoginLimit(0, 0))
	for i := range 2 * auth.DefaultAddressLoginBurst {
		expect(t, "wrong, no address limit", off.loginFrom(t, ip, loginSuper, fmt.Sprintf("guess%d@example.com", i), "x"), 400, bodyFailedAuth)
	}
}

func TestLoginLimitIPv6(t *testing.T) {
	f, _ := limitFixture(t)
	f.failFive(t, "[2001:db8:1:2::1]:443")
	expect(t, "same /64", f.wrong(t, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1"), 429, bodyTooMany)
	expect(t, "same /64 with a zone", f.wrong(t, "[2001:db8:1:2::5%eth0]:1"), 429, bodyTooMany)
	expect(t, "next /64", f.wrong(t, "[2001:db8:1:3::1]:443"), 400, bodyFailedAuth)
	expect(t, "right password from elsewhere", f.right(t, "[2001:db8:2::1]:1"), 200, "")

	f.failFive(t, "192.0.2.50:1")
	expect(t, "the same IPv4 address, IPv4-mapped", f.wrong(t, "[::ffff:192.0.2.50]:2"), 429, bodyTooMany)
	expect(t, "bare IPv6 address", f.wrong(t, "2001:db8:1:2::9"), 429, bodyTooMany)
}

func TestLoginLimitTrustedProxies(t *testing.T) {
	const proxy = "10.0.0.1:8080"
	t.Run("forged headers change nothing without the setting", func(t *testing.T) {
		f, _ := limitFixture(t)
		for i := range auth.DefaultLoginBurst {
			expect(t, "wrong", f.wrong(t, proxy, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i+1)), 400, bodyFailedAuth)
		}
		expect(t, "a new X-Forwarded-For does not help", f.wrong(t, proxy, "X-Forwarded-For", "203.0.113.99"), 429, bodyTooMany)
		expect(t, "a new X-Real-IP does not help", f.right(t, proxy, "X-Real-IP", "203.0.113.99"), 429, bodyTooMany)
	})
	t.Run("forged headers from an untrusted peer", func(t *testing.T) {
		f, _ := limitFixture(t, auth.WithTrustedProxies(mustProxies(t, "10.0.0.0/8")))
		const attacker = "192.0.2.9:1"
		f.failFive(t, attacker, "X-Forwarded-For", "203.0.113.1")
		expect(t, "another forged address", f.wrong(t, attacker, "X-Forwarded-For", "203.0.113.2"), 429, bodyTooMany)
	})
	t.Run("trusted", func(t *testing.T) {
		f, _ := limitFixture(t, auth.WithTrustedProxies(mustProxies(t, "10.0.0.0/8")))
		// The attacker puts a forged address first; the proxy appends the real one.
		f.failFive(t, proxy, "X-Forwarded-For", "198.51.100.1, 203.0.113.7")
		expect(t, "same client, new forged value", f.wrong(t, proxy, "X-Forwarded-For", "198.51.100.2, 203.0.113.7"), 429, bodyTooMany)
		expect(t, "same client through two proxies", f.wrong(t, proxy, "X-Forwarded-For", "203.0.113.7, 10.0.0.2"), 429, bodyTooMany)
		expect(t, "another client's right login", f.right(t, proxy, "X-Forwarded-For", "203.0.113.8"), 200, "")
		expect(t, "another client, X-Real-IP", f.right(t, proxy, "X-Real-IP", "203.0.113.9"), 200, "")
		expect(t, "another client, IPv6", f.right(t, proxy, "X-Forwarded-For", "2001:db8::1"), 200, "")
		// Without a usable header the proxy's own address counts.
		f.failFive(t, proxy)
		expect(t, "garbage header", f.wrong(t, proxy, "X-Forwarded-For", "unknown"), 429, bodyTooMany)
		expect(t, "no header", f.wrong(t, proxy), 429, bodyTooMany)
	})
}

func mustProxies(t *testing.T, list string) clientip.Proxies {
	t.Helper()
	p, err := clientip.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoginLimitConfigured(t *testing.T) {
	f, clk := limitFixture(t, auth.WithLoginLimit(2, time.Minute))
	const ip = "192.0.2.77:1"
	expect(t, "1st", f.wrong(t, ip), 400, bodyFailedAuth)
	expect(t, "2nd", f.wrong(t, ip), 400, bodyFailedAuth)
	expectLimited(t, "3rd", f.wrong(t, ip), "60")
	clk.advance(30 * time.Second)
	expectLimited(t, "after 30 s", f.wrong(t, ip), "30")
	clk.advance(30 * time.Second)
	expect(t, "after a minute", f.wrong(t, ip), 400, bodyFailedAuth)
	expectLimited(t, "then", f.wrong(t, ip), "60")
}

func TestLoginLimitOff(t *testing.T) {
	f, _ := limitFixture(t, auth.WithLoginLimit(0, time.Hour))
	for range 20 {
		expect(t, "wrong", f.wrong(t, "192.0.2.1:1"), 400, bodyFailedAuth)
	}
	expect(t, "right", f.right(t, "192.0.2.1:1"), 200, "")
}

func TestLoginLimitInvalidPanics(t *testing.T) {
	for _, tc := range []struct {
		burst int
		every time.Duration
	}{{5, 0}, {5, -time.Second}, {1 << 40, time.Hour}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithLoginLimit(%d, %v): New did not panic", tc.burst, tc.every)
				}
			}()
			auth.New(newMemStore(), []byte(auth.NewTokenKey()), []auth.Collection{auth.Superusers()}, auth.WithLoginLimit(tc.burst, tc.every))
		}()
	}
	auth.New(newMemStore(), []byte(auth.NewTokenKey()), []auth.Collection{auth.Superusers()}, auth.WithLoginLimit(-1, -1)) // off
}

// TestLoginLimitParallel sends many logins from one address at once: no
// more wrong guesses get through than the burst, and successes, however
// many at once, all succeed.
func TestLoginLimitParallel(t *testing.T) {
	f, _ := limitFixture(t)
	parallel := func(remote string, n int, login func(*testing.T, string, ...string) response) map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				r := login(t, remote)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return statuses
	}
	if got := parallel("192.0.2.10:1", 30, f.right); got[200] != 30 {
		t.Errorf("30 right passwords at once: statuses %v, want 30 × 200", got)
	}
	if got := parallel("192.0.2.11:1", 40, f.wrong); got[400] != auth.DefaultLoginBurst || got[429] != 40-auth.DefaultLoginBurst {
		t.Errorf("40 wrong passwords at once: statuses %v, want %d × 400 and the rest 429", got, auth.DefaultLoginBurst)
	}
}

// TestLoginLimitOverHTTP runs the limit through a real server, where the
// address is the connection's.
func TestLoginLimitOverHTTP(t *testing.T) {
	f, _ := limitFixture(t)
	body := loginJSON("admin@example.com", "wrong-password")
	for range auth.DefaultLoginBurst {
		status, got, _ := f.do(t, "POST", loginSuper, jsonType, body)
		if status != 400 {
			t.Fatalf("status %d: %s", status, got)
		}
	}
	status, got, hdr := f.do(t, "POST", loginSuper, jsonType, body)
	if status != 429 || hdr.Get("Retry-After") != "10" {
		t.Fatalf("status %d, Retry-After %q: %s", status, hdr.Get("Retry-After"), got)
	}
	assertJSONEqual(t, got, bodyTooMany)
}

func TestWithClockTokenExpiry(t *testing.T) {
	f, clk := limitFixture(t)
	token := f.authToken(t, f.super)
	status, _, _ := f.do(t, "GET", backups, authHeader(token), "")
	if status != 200 {
		t.Fatalf("fresh token: status %d", status)
	}
	clk.advance(auth.SuperuserTokenTTL + time.Second)
	status, body, _ := f.do(t, "GET", backups, authHeader(token), "")
	if status != 401 {
		t.Fatalf("token past its lifetime by the service's clock: status %d, %s", status, body)
	}
}

// TestSlowLoginBodiesHoldNoTry: logins whose bodies are still arriving
// hold none of their client's tries, so they cannot make the same
// client's right login wait.
func TestSlowLoginBodiesHoldNoTry(t *testing.T) {
	f, _ := limitFixture(t)
	const ip = "192.0.2.1:1"
	var wg sync.WaitGroup
	var writers []*io.PipeWriter
	for range 2 * auth.DefaultLoginBurst {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req := httptest.NewRequest(http.MethodPost, loginSuper, pr)
		req.RemoteAddr = ip
		req.Header.Set("Content-Type", "application/json")
		wg.Go(func() { f.handler.ServeHTTP(httptest.NewRecorder(), req) })
		if _, err := io.WriteString(pw, `{"identity":"admin@example.com","pass`); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, pw := range writers {
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}
		wg.Wait()
	}()
	done := make(chan response, 1)
	go func() { done <- f.right(t, ip) }()
	select {
	case r := <-done:
		expect(t, "right login beside slow ones", r, 200, "")
	case <-time.After(30 * time.Second):
		t.Fatal("the right login waited for logins whose bodies had not arrived")
	}
}

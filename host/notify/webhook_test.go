package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/notify"
)

// receiver is a real HTTP webhook receiver on loopback that fails the
// first failFirst requests with a 503.
type receiver struct {
	srv       *httptest.Server
	secret    string
	failFirst int

	mu       sync.Mutex
	requests []received
	got      chan received
}

type received struct {
	body      []byte
	signature string
	delivery  string
	event     string
	status    int
}

func newReceiver(t *testing.T, secret string, failFirst int) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, failFirst: failFirst, got: make(chan received, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		req := received{body: body, signature: r.Header.Get(notify.HeaderSignature),
			delivery: r.Header.Get(notify.HeaderDelivery), event: r.Header.Get(notify.HeaderEvent), status: http.StatusOK}
		if len(rc.requests) < rc.failFirst {
			req.status = http.StatusServiceUnavailable
		}
		rc.requests = append(rc.requests, req)
		rc.mu.Unlock()
		w.WriteHeader(req.status)
		_, _ = w.Write([]byte("receiver says " + http.StatusText(req.status)))
		rc.got <- req
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

// next waits for the receiver's next request.
func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook request within 30s")
		return received{}
	}
}

func TestWebhookSignedAndRetriedUntilAcknowledged(t *testing.T) {
	rc := newReceiver(t, "hook-secret-123", 2)
	var mu sync.Mutex
	var results []bool
	var warnings []string
	done := make(chan struct{}, 10)
	n := notify.New(notify.Options{
		App:     "myapp",
		Backoff: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		Result: func(channel string, ok bool) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, ok)
			done <- struct{}{}
		},
		Warn: func(msg string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			warnings = append(warnings, msg)
			for _, a := range args {
				if s, ok := a.(string); ok && strings.Contains(s, "hook-secret-123") {
					t.Errorf("warning carries the secret: %v", args)
				}
			}
		},
	})
	cfg := notify.Config{Webhooks: []notify.Webhook{{URL: rc.srv.URL + "/hooks/token-in-path", Secret: "hook-secret-123"}}}
	n.Send(cfg, notify.Event{Type: notify.EventFailed, Operation: "create", Stage: "archive", Kind: "no_space",
		Message: "Failed to create backup: not enough free space."})

	first, second, third := rc.next(t), rc.next(t), rc.next(t)
	if first.status != 503 || second.status != 503 || third.status != 200 {
		t.Fatalf("statuses %d %d %d, want 503 503 200", first.status, second.status, third.status)
	}
	for _, r := range []received{first, second, third} {
		if !notify.Verify("hook-secret-123", r.body, r.signature) || r.signature != hmacHex("hook-secret-123", r.body) {
			t.Errorf("signature %q does not verify over %s", r.signature, r.body)
		}
		if notify.Verify("other-secret", r.body, r.signature) {
			t.Error("signature verifies with another secret")
		}
		if r.delivery == "" || r.delivery != first.delivery {
			t.Errorf("delivery id %q, want the first attempt's %q on every attempt", r.delivery, first.delivery)
		}
		if r.event != notify.EventFailed {
			t.Errorf("event header %q", r.event)
		}
	}
	var ev notify.Event
	if err := json.Unmarshal(third.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != notify.EventFailed || ev.Stage != "archive" || ev.Kind != "no_space" || ev.App != "myapp" || ev.Time.IsZero() {
		t.Errorf("event %+v", ev)
	}

	// Acknowledged: never sent again. Close waits for the worker, so
	// nothing can still be on its way after it.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("no result within 30s")
	}
	n.Close()
	if c := rc.count(); c != 3 {
		t.Errorf("receiver got %d requests, want exactly 3", c)
	}
	mu.Lock()
	if len(results) != 1 || !results[0] {
		t.Errorf("results %v, want one success", results)
	}
	if len(warnings) != 2 {
		t.Errorf("warnings %v, want one per failed attempt", warnings)
	}
	mu.Unlock()
	log := n.Log()
	if len(log) != 3 || !log[0].OK || log[1].OK || log[0].Attempt != 3 || log[0].Answer.Status != 200 ||
		!strings.Contains(log[0].Answer.Text, "receiver says OK") {
		t.Errorf("delivery log %+v", log)
	}
	for _, d := range log {
		if strings.Contains(d.Target, "token-in-path") {
			t.Errorf("log target %q shows the URL's path", d.Target)
		}
	}
}

func TestWebhookGivesUpAfterRetries(t *testing.T) {
	rc := newReceiver(t, "", 100)
	var failed sync.WaitGroup
	failed.Add(1)
	n := notify.New(notify.Options{Backoff: []time.Duration{time.Millisecond, time.Millisecond},
		Result: func(_ string, ok bool) {
			if !ok {
				failed.Done()
			}
		}})
	defer n.Close()
	n.Send(notify.Config{Webhooks: []notify.Webhook{{URL: rc.srv.URL}}}, notify.Event{Type: notify.EventStale})
	failed.Wait()
	if c := rc.count(); c != 3 {
		t.Errorf("receiver got %d requests, want 3 (one try and two retries)", c)
	}
	if r := rc.next(t); r.signature != "" {
		t.Errorf("signature %q sent without a secret", r.signature)
	}
}

func TestTestReportsReceiverAnswer(t *testing.T) {
	ok := newReceiver(t, "s", 0)
	bad := newReceiver(t, "s", 1)
	n := notify.New(notify.Options{})
	defer n.Close()
	res := n.Test(context.Background(), notify.Config{Webhooks: []notify.Webhook{{URL: ok.srv.URL, Secret: "s"}, {URL: bad.srv.URL}}})
	if len(res) != 2 || !res[0].OK || res[0].Answer.Status != 200 || res[1].OK || res[1].Answer.Status != 503 ||
		!strings.Contains(res[1].Answer.Text, "Service Unavailable") {
		t.Fatalf("results %+v", res)
	}
	if bad.count() != 1 {
		t.Errorf("a test is sent once, got %d", bad.count())
	}
}

// hmacHex is the signature as a receiver in any language computes it.
func hmacHex(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

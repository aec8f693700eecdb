package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Webhook request headers.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body
	// keyed with the webhook's secret.
	HeaderSignature = "X-Pocketbackup-Signature"
	// HeaderEvent is the event's type.
	HeaderEvent = "X-Pocketbackup-Event"
	// HeaderDelivery is the same on every attempt of one delivery, so a
	// receiver can drop a repeat it already handled.
	HeaderDelivery = "X-Pocketbackup-Delivery"
)

// Sign returns the signature header's value for body and secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is body's signature with secret (in
// constant time): what a receiver written in Go does.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// postWebhook sends ev to wh once; a 2xx answer acknowledges it.
func (n *Notifier) postWebhook(ctx context.Context, wh Webhook, id string, ev Event) (Answer, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return Answer{}, fmt.Errorf("encode event: %w", err)
	}
	eventType := ev.Type
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("webhook request: invalid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pocketbackup-notify")
	req.Header.Set(HeaderEvent, eventType)
	req.Header.Set(HeaderDelivery, id)
	if wh.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(wh.Secret, body))
	}
	resp, err := n.opts.HTTPClient.Do(req)
	if err != nil {
		// The URL (which may hold a token) stays out of the error.
		return Answer{}, fmt.Errorf("webhook post: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	ans := Answer{Status: resp.StatusCode, Text: strings.ToValidUTF8(oneLine(string(head)), "")}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ans, fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return ans, nil
}

// deliveryID is a fresh random id; one per delivery, kept over retries
// (the event's time and type make it unique together with the random part).
func deliveryID(ev Event) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d-%s", ev.Time.UnixNano(), hex.EncodeToString(b[:]))
}

// unwrapURLError drops *url.Error's "Post URL:" wrapping.
func unwrapURLError(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && strings.HasPrefix(err.Error(), "Post ") {
		if inner := u.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

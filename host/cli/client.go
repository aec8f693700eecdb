package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// busyMessage is the contract's answer while a create or restore runs.
const busyMessage = "Try again later - another backup/restore process has already been started."

// apiError is an error answer in the contract's JSON shape.
type apiError struct {
	Status  int            `json:"status"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	// Field errors name what to fix.
	for field, v := range e.Data {
		if m, ok := v.(map[string]any); ok {
			if fm, ok := m["message"].(string); ok {
				msg += fmt.Sprintf(" (%s: %s)", field, fm)
			}
		}
	}
	return fmt.Sprintf("the app answered %d: %s", e.Status, msg)
}

// Is makes a busy answer match errBusy.
func (e *apiError) Is(target error) bool {
	return target == errBusy && e.Message == busyMessage
}

// client speaks the REST contract to one app.
type client struct {
	base  *url.URL
	http  *http.Client
	token string
	// login, when set, gets a fresh token (after a restore the app may
	// have other token keys).
	login func(ctx context.Context) (string, error)
}

// url returns the absolute URL of path (already escaped) with query q.
func (c *client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// do sends a request with the auth token and decodes a JSON answer into
// out (when not nil). Non-2xx answers become *apiError.
func (c *client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, nil), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return err
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return nil
}

// checkResponse turns a non-2xx answer into *apiError.
func checkResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	ae := &apiError{Status: resp.StatusCode}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(ae)
	if ae.Status == 0 {
		ae.Status = resp.StatusCode
	}
	return ae
}

// authWithPassword logs a superuser in and returns the token.
func authWithPassword(ctx context.Context, c *client, email, password string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := c.do(ctx, http.MethodPost, "/api/collections/_superusers/auth-with-password",
		map[string]string{"identity": email, "password": password}, &out)
	if err != nil {
		return "", fmt.Errorf("log in as %s: %w", email, err)
	}
	return out.Token, nil
}

// fileToken gets a short-lived file token for a download.
func (c *client) fileToken(ctx context.Context) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/files/token", nil, &out); err != nil {
		return "", fmt.Errorf("file token: %w", err)
	}
	return out.Token, nil
}

// relogin replaces the token with a fresh one, when credentials allow.
func (c *client) relogin(ctx context.Context) error {
	if c.login == nil {
		return errors.New("no credentials to log in again")
	}
	tok, err := c.login(ctx)
	if err != nil {
		return err
	}
	c.token = tok
	return nil
}

// keyPath is the path of a backup's route.
func keyPath(key string, suffix string) string {
	return "/api/backups/" + url.PathEscape(key) + suffix
}

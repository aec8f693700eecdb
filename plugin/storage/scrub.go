package storage

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"

	"github.com/pocketbackup/pocketbackup/shared"
)

// minSecretLen is the shortest query value or user name that scrubURL and secretsOf remove;
// shorter ones ("1", "true") would mangle the message and are not secrets.
const minSecretLen = 4

// scrubURL removes from msg, an error's text, everything of u that may be
// secret: the URL itself in any spelling, its user info, its query and each
// query value. It differs from shared.Redact, which rewrites a URL for
// display keeping its shape: here the URL's parts are hunted inside free text
// a driver wrote, where the shape is unknown.
func scrubURL(msg, rawURL string, u *url.URL) string {
	var secrets []string
	add := func(s string) {
		if len(s) >= minSecretLen {
			secrets = append(secrets, s)
		}
	}
	add(rawURL)
	add(u.String())
	add(u.Redacted())
	add(u.RawQuery)
	if u.User != nil {
		add(u.User.String())
		add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
			add(url.PathEscape(p))
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
			add(url.QueryEscape(v))
		}
	}
	return replaceAll(msg, longestFirst(secrets))
}

// secretsOf returns the secrets of u that must never appear in the errors of
// the store it opens: the user info and the values of shared.SecretParams, in the
// spellings an error may use.
func secretsOf(u *url.URL) []string {
	var secrets []string
	add := func(s string) {
		if len(s) >= minSecretLen {
			secrets = append(secrets, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	if u.User != nil {
		add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	for k, vs := range u.Query() {
		if shared.SecretParams[strings.ToLower(k)] {
			for _, v := range vs {
				add(v)
			}
		}
	}
	return longestFirst(secrets)
}

// longestFirst sorts secrets longest first, so that replaceAll takes a URL
// as a whole before its parts, and returns it.
func longestFirst(secrets []string) []string {
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return secrets
}

// replaceAll replaces each of secrets, in order, in msg.
func replaceAll(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "["+shared.Redacted+"]")
	}
	return msg
}

// scrubbedError stands for an error whose text held a secret. It keeps the
// kinds callers test with errors.Is, not the original error.
type scrubbedError struct {
	msg   string
	kinds []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.kinds }

// scrubKinds are the kinds a scrubbedError keeps.
var scrubKinds = []error{shared.ErrNotFound, shared.ErrInvalid, context.Canceled, context.DeadlineExceeded}

// scrub returns err, or a scrubbedError in its place if its text holds one
// of secrets (sorted by longestFirst).
func scrub(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	clean := replaceAll(msg, secrets)
	if clean == msg {
		return err
	}
	e := &scrubbedError{msg: clean}
	for _, k := range scrubKinds {
		if errors.Is(err, k) {
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

package storage

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"

	"github.com/pocketbackup/pocketbackup/shared"
)

// redacted replaces secrets in URLs and messages.
const redacted = "REDACTED"

// secretParams are the query parameters, lowercased, whose values Redact
// hides: our own s3 credentials and the usual names of tokens and signatures.
var secretParams = map[string]bool{
	paramAccessKey: true, paramSecret: true,
	"secret_key": true, "secret_access_key": true, "session_token": true,
	"token": true, "sas_token": true, "password": true, "credentials": true,
	"private_key": true, "sig": true, "signature": true,
	"x-amz-credential": true, "x-amz-signature": true, "x-amz-security-token": true,
}

// Redact returns rawURL with its secrets replaced by REDACTED, for logs and
// for showing a storage URL to users: the user info, the values of
// secret-bearing query parameters (access_key, secret, token, …) and any
// fragment. The rest (scheme, bucket, path, region, endpoint, prefix) stays,
// in its original order and spelling. A URL that does not parse gives a
// placeholder.
func Redact(rawURL string) string {
	if _, err := url.Parse(rawURL); err != nil {
		return "[malformed URL " + redacted + "]"
	}
	// Edit the text rather than re-encode the parsed URL, which would
	// change its spelling ("mem://" becomes "mem:"). The cuts are those
	// url.Parse makes: fragment at the first '#', query at the first '?',
	// user info up to the last '@' of the authority.
	rest, frag, hasFrag := strings.Cut(rawURL, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	if scheme, after, ok := strings.Cut(rest, "://"); ok && !strings.ContainsAny(scheme, "/?#") {
		authority, path, hasPath := strings.Cut(after, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			authority = redacted + authority[at:]
		}
		rest = scheme + "://" + authority
		if hasPath {
			rest += "/" + path
		}
	}
	out := rest
	if hasQuery {
		parts := strings.Split(query, "&")
		for i, part := range parts {
			k, _, _ := strings.Cut(part, "=")
			name, err := url.QueryUnescape(k)
			switch {
			case err != nil:
				parts[i] = redacted
			case secretParams[strings.ToLower(name)]:
				parts[i] = k + "=" + redacted
			}
		}
		out += "?" + strings.Join(parts, "&")
	}
	if hasFrag && frag != "" {
		out += "#" + redacted
	}
	return out
}

// minSecretLen is the shortest query value or user name that redact removes;
// shorter ones ("1", "true") would mangle the message and are not secrets.
const minSecretLen = 4

// redact removes from msg everything of u that may be secret: the URL itself
// in any spelling, its user info, its query and each query value.
func redact(msg, rawURL string, u *url.URL) string {
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
// the store it opens: the user info and the values of secretParams, in the
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
		if secretParams[strings.ToLower(k)] {
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
		msg = strings.ReplaceAll(msg, s, "[redacted]")
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

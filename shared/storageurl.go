package shared

import (
	"net/url"
	"strings"
)

// Storage URLs name where backups live (file://, s3://, …). They may hold
// credentials, so they are shown and logged only through Redact.

// S3Config is what a host's S3 settings (PocketBase's: bucket, region,
// endpoint, access key, secret, force path style) say about a bucket, plus a
// key prefix so that several apps can share one bucket.
type S3Config struct {
	Bucket    string
	Region    string
	Endpoint  string // e.g. https://s3.example.com; no scheme means https
	AccessKey string
	Secret    string
	Prefix    string // folder inside the bucket, e.g. "app1/backups"
	// ForcePathStyle addresses the bucket as ENDPOINT/BUCKET rather than
	// BUCKET.ENDPOINT, as MinIO and most self-hosted stores need.
	ForcePathStyle bool
}

// S3URL returns the s3:// storage URL for cfg, as the plugin's storage
// understands it. The URL holds
// the secret: show or log it only through Redact.
func S3URL(cfg S3Config) string {
	q := url.Values{}
	if cfg.Region != "" {
		q.Set("region", cfg.Region)
	}
	if ep := strings.TrimSpace(cfg.Endpoint); ep != "" {
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep // as PocketBase does
		}
		q.Set("endpoint", strings.TrimRight(ep, "/"))
	}
	if cfg.ForcePathStyle {
		q.Set("use_path_style", "true")
	}
	if cfg.Prefix != "" {
		q.Set("prefix", cfg.Prefix)
	}
	if cfg.AccessKey != "" || cfg.Secret != "" {
		q.Set(S3ParamAccessKey, cfg.AccessKey)
		q.Set(S3ParamSecret, cfg.Secret)
	}
	u := url.URL{Scheme: "s3", Host: cfg.Bucket, RawQuery: q.Encode()}
	return u.String()
}

// Our own s3:// parameters: static credentials. The plugin takes them out
// of the URL before gocloud sees it.
const (
	S3ParamAccessKey = "access_key"
	S3ParamSecret    = "secret"
)

// Redacted replaces secrets in URLs and messages.
const Redacted = "REDACTED"

// SecretParams are the query parameters, lowercased, whose values Redact
// hides: our own s3 credentials and the usual names of tokens and signatures.
var SecretParams = map[string]bool{
	S3ParamAccessKey: true, S3ParamSecret: true,
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
		return "[malformed URL " + Redacted + "]"
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
			authority = Redacted + authority[at:]
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
				parts[i] = Redacted
			case SecretParams[strings.ToLower(name)]:
				parts[i] = k + "=" + Redacted
			}
		}
		out += "?" + strings.Join(parts, "&")
	}
	if hasFrag && frag != "" {
		out += "#" + Redacted
	}
	return out
}

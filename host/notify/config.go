package notify

import "time"

// TLS modes of an SMTP connection.
const (
	TLSNone     = "none"     // plain text; for a relay on localhost
	TLSStartTLS = "starttls" // plain, then STARTTLS (required: refused when not offered)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
)

// Webhook is one receiver of JSON POSTs.
type Webhook struct {
	URL string
	// Secret keys the HMAC-SHA256 signature of each body; no signature
	// header when empty.
	Secret string
}

// Email is the SMTP settings.
type Email struct {
	Host     string
	Port     int
	TLS      string // TLSNone, TLSStartTLS or TLSImplicit
	Username string // no AUTH when empty
	Password string
	From     string
	To       []string
	// ToSuperusers adds every superuser's address (Options.Superusers).
	ToSuperusers bool
}

// Config is where one event goes.
type Config struct {
	Webhooks []Webhook
	// Email is nil when e-mail is off.
	Email *Email
}

// Empty reports whether cfg sends nothing.
func (c Config) Empty() bool { return len(c.Webhooks) == 0 && c.Email == nil }

// DefaultBackoff is the wait before each retry of a failed delivery.
var DefaultBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

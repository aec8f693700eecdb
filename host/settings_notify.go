package host

import (
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/host/notify"
)

// NotifySettings is the settings' backups.notify section: where alerts go
// and when backups count as stale (the dead-man's switch).
type NotifySettings struct {
	Webhooks []WebhookSettings `json:"webhooks"`
	Email    EmailSettings     `json:"email"`
	// OnSuccess sends an event for every successful operation too.
	OnSuccess bool `json:"onSuccess"`
	// StaleAfter ("26h"; Go duration syntax): when no successful backup is
	// newer than this, notify once, and again when one is. "" is off.
	StaleAfter string `json:"staleAfter"`
}

// WebhookSettings is one webhook; Secret is write-only.
type WebhookSettings struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// EmailSettings is SMTP delivery; Password is write-only.
type EmailSettings struct {
	Enabled      bool     `json:"enabled"`
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	TLS          string   `json:"tls"` // none, starttls (default) or tls
	Username     string   `json:"username"`
	Password     string   `json:"password"`
	From         string   `json:"from"`
	To           []string `json:"to"`
	ToSuperusers bool     `json:"toSuperusers"`
}

// IsZero reports whether nothing is set (the TLS mode's default aside):
// the settings JSON then leaves the section out.
func (n NotifySettings) IsZero() bool {
	e := n.Email
	return len(n.Webhooks) == 0 && !n.OnSuccess && n.StaleAfter == "" && !e.Enabled && e.Host == "" && e.Port == 0 &&
		e.Username == "" && e.Password == "" && e.From == "" && len(e.To) == 0 && !e.ToSuperusers
}

// Limits of the notify settings.
const (
	maxWebhooks      = 10
	maxEmailTo       = 50
	minStaleAfter    = time.Minute
	defaultEmailPort = 587
)

// clone returns n with its own slices, so that decoding a patch into the
// copy leaves n's backing arrays alone.
func (n NotifySettings) clone() NotifySettings {
	n.Webhooks = slices.Clone(n.Webhooks)
	n.Email.To = slices.Clone(n.Email.To)
	return n
}

// public blanks the write-only fields.
func (n NotifySettings) public() NotifySettings {
	n = n.clone()
	for i := range n.Webhooks {
		n.Webhooks[i].Secret = ""
	}
	n.Email.Password = ""
	return n
}

// keepSecrets fills the write-only fields a patch left empty from old: a
// webhook's secret from the old webhook with the same URL, the SMTP
// password from the old one.
func (n *NotifySettings) keepSecrets(old NotifySettings) {
	for i, wh := range n.Webhooks {
		if wh.Secret != "" {
			continue
		}
		for _, o := range old.Webhooks {
			if o.URL == wh.URL {
				n.Webhooks[i].Secret = o.Secret
				break
			}
		}
	}
	if n.Email.Password == "" {
		n.Email.Password = old.Email.Password
	}
}

// normalize trims what people paste with spaces and fills defaults.
func (n *NotifySettings) normalize() {
	n.StaleAfter = strings.TrimSpace(n.StaleAfter)
	for i := range n.Webhooks {
		n.Webhooks[i].URL = strings.TrimSpace(n.Webhooks[i].URL)
	}
	n.Email.Host = strings.TrimSpace(n.Email.Host)
	n.Email.TLS = strings.ToLower(strings.TrimSpace(n.Email.TLS))
	if n.Email.TLS == "" {
		n.Email.TLS = notify.TLSStartTLS
	}
	if n.Email.Port == 0 && n.Email.Enabled {
		n.Email.Port = defaultEmailPort
	}
}

// staleAfter is the parsed StaleAfter; 0 when off (or invalid, which
// validate refuses).
func (n NotifySettings) staleAfter() time.Duration {
	d, err := time.ParseDuration(n.StaleAfter)
	if err != nil || d < minStaleAfter {
		return 0
	}
	return d
}

// validate returns the field errors of the notify settings, keyed as in
// the JSON, or an empty map.
func (n NotifySettings) validate() map[string]any {
	fields := map[string]any{}
	if n.StaleAfter != "" {
		if d, err := time.ParseDuration(n.StaleAfter); err != nil || d < minStaleAfter {
			fields["staleAfter"] = jsonapi.FieldError{Code: "validation_invalid_duration",
				Message: "Must be a duration of at least 1m, such as \"26h\"."}
		}
	}
	if len(n.Webhooks) > maxWebhooks {
		fields["webhooks"] = jsonapi.FieldError{Code: "validation_too_many", Message: "At most " + strconv.Itoa(maxWebhooks) + " webhooks."}
	} else {
		hooks := map[string]any{}
		for i, wh := range n.Webhooks {
			if !httpURL(wh.URL) {
				hooks[strconv.Itoa(i)] = map[string]any{"url": jsonapi.FieldError{Code: "validation_is_url",
					Message: "Must be an http or https URL with a host and no user name or password."}}
			}
		}
		if len(hooks) > 0 {
			fields["webhooks"] = hooks
		}
	}
	if em := validateEmail(n.Email); len(em) > 0 {
		fields["email"] = em
	}
	return fields
}

func validateEmail(e EmailSettings) map[string]any {
	fields := map[string]any{}
	if !e.Enabled {
		return fields
	}
	invalid := func(name, msg string) {
		fields[name] = jsonapi.FieldError{Code: "validation_invalid", Message: msg}
	}
	if e.Host == "" || strings.ContainsAny(e.Host, " /:@") {
		invalid("host", "Must be a host name or address.")
	}
	if e.Port < 1 || e.Port > 65535 {
		invalid("port", "Must be between 1 and 65535.")
	}
	if e.TLS != notify.TLSNone && e.TLS != notify.TLSStartTLS && e.TLS != notify.TLSImplicit {
		invalid("tls", "Must be none, starttls or tls.")
	}
	if !plainAddress(e.From) {
		invalid("from", "Must be an e-mail address.")
	}
	switch {
	case len(e.To) == 0 && !e.ToSuperusers:
		invalid("to", "Name at least one address, or send to all superusers.")
	case len(e.To) > maxEmailTo:
		invalid("to", "At most "+strconv.Itoa(maxEmailTo)+" addresses.")
	default:
		for _, a := range e.To {
			if !plainAddress(a) {
				invalid("to", "Must be e-mail addresses.")
				break
			}
		}
	}
	return fields
}

// plainAddress reports whether s is a bare address ("a@b.example"), the
// only form the SMTP envelope takes.
func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && !strings.ContainsAny(s, "\r\n<>")
}

// httpURL reports whether s is an http(s) URL with a host and no user
// info.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil && u.Opaque == ""
}

// config is where events go under these settings.
func (n NotifySettings) config() notify.Config {
	var c notify.Config
	for _, wh := range n.Webhooks {
		c.Webhooks = append(c.Webhooks, notify.Webhook{URL: wh.URL, Secret: wh.Secret})
	}
	if n.Email.Enabled {
		e := n.Email
		c.Email = &notify.Email{Host: e.Host, Port: e.Port, TLS: e.TLS, Username: e.Username, Password: e.Password,
			From: e.From, To: slices.Clone(e.To), ToSuperusers: e.ToSuperusers}
	}
	return c
}

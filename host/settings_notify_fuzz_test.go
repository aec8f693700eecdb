package host

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzNotifySettings feeds PATCH bodies to the settings: whatever a body
// holds, an accepted result validates, its public view carries no secret,
// every webhook it would call is http(s), and the settings it was applied
// to are left unchanged (the patch decodes into a copy whose slices are
// its own).
func FuzzNotifySettings(f *testing.F) {
	for _, seed := range []string{
		`{"backups":{"notify":{"webhooks":[{"url":"https://hooks.example.com/x"}]}}}`,
		`{"backups":{"notify":{"webhooks":[{"url":"https://hooks.example.com/x","secret":""},{"url":"http://b.example"}],"staleAfter":"26h"}}}`,
		`{"backups":{"notify":{"email":{"enabled":true,"host":"smtp.example.com","port":465,"tls":"tls","from":"a@example.com","to":["b@example.com"],"password":""}}}}`,
		`{"backups":{"notify":{"email":{"enabled":true,"host":"h","from":"a@b.c","toSuperusers":true},"onSuccess":true}}}`,
		`{"backups":{"notify":{"webhooks":null,"email":{"to":null}}}}`,
		`{"backups":{"notify":{"staleAfter":"-1h"}}}`,
		`{"backups":{"notify":{"webhooks":[{"url":"javascript:alert(1)"}]}}}`,
	} {
		f.Add([]byte(seed))
	}
	const hookSecret, smtpPassword = "stored-hook-secret-XYZ", "stored-smtp-password-XYZ"
	f.Fuzz(func(t *testing.T, body []byte) {
		base := defaultSettings()
		base.Backups.Notify = NotifySettings{
			Webhooks: []WebhookSettings{{URL: "https://hooks.example.com/x", Secret: hookSecret}, {URL: "http://b.example", Secret: hookSecret}},
			Email: EmailSettings{Enabled: true, Host: "smtp.example.com", Port: 587, TLS: "starttls", Username: "u",
				Password: smtpPassword, From: "a@example.com", To: []string{"b@example.com", "c@example.com"}},
			StaleAfter: "26h",
		}
		before := base.Backups.Notify.clone()
		next, err := base.patched(body)
		if !reflect.DeepEqual(base.Backups.Notify, before) {
			t.Fatalf("the patch changed the settings it was applied to: %+v", base.Backups.Notify)
		}
		if err != nil {
			return
		}
		if verr := next.validate(); verr != nil {
			t.Fatalf("accepted settings do not validate: %v", verr)
		}
		pub, mErr := json.Marshal(next.public())
		if mErr != nil {
			t.Fatal(mErr)
		}
		if strings.Contains(string(pub), hookSecret) || strings.Contains(string(pub), smtpPassword) {
			t.Fatalf("public settings show a secret: %s", pub)
		}
		for _, wh := range next.Backups.Notify.config().Webhooks {
			if u, err := url.Parse(wh.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("webhook %q is not http(s)", wh.URL)
			}
		}
	})
}

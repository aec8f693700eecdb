package storage_test

import (
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// TestMain points gocloud's gs:// and azblob:// openers at credentials from
// the environment, so that opening never probes a cloud metadata server:
// Azurite's development account, and an emulator host for GCS (which
// gocloud then reaches without credentials). Tests that talk to the
// emulators start them (emulators_test.go); TestMain stops them.
func TestMain(m *testing.M) {
	for k, v := range map[string]string{
		"STORAGE_EMULATOR_HOST": "127.0.0.1:1",
		"AZURE_STORAGE_ACCOUNT": azuriteAccount,
		"AZURE_STORAGE_KEY":     azuriteKey,
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	stopEmulators()
	os.Exit(code)
}

// TestCloudSchemesRegistered: gs:// and azblob:// open (no I/O happens at
// open); their bad parameters are ErrInvalid, without the values.
func TestCloudSchemesRegistered(t *testing.T) {
	for _, u := range []string{"gs://bucket", "gs://bucket?prefix=app1", "azblob://container", "azblob://container?prefix=a/b"} {
		s := open(t, u)
		if err := s.Close(); err != nil {
			t.Errorf("Close(%q): %v", u, err)
		}
	}
	for _, u := range []string{"gs://bucket?bogus=tokensecret", "azblob://container?bogus=tokensecret"} {
		_, err := storage.Open(t.Context(), u)
		if !errors.Is(err, shared.ErrInvalid) || strings.Contains(err.Error(), "tokensecret") {
			t.Errorf("Open(%q): %v, want ErrInvalid without the value", u, err)
		}
	}
}

func TestS3URL(t *testing.T) {
	for _, tc := range []struct {
		cfg  shared.S3Config
		want string
	}{
		{shared.S3Config{Bucket: "b"}, "s3://b"},
		{shared.S3Config{Bucket: "b", Region: "eu-west-1"}, "s3://b?region=eu-west-1"},
		{
			shared.S3Config{
				Bucket: "backups", Region: "us-west-000", Endpoint: "s3.us-west-000.backblazeb2.com",
				AccessKey: "KEYID", Secret: "a/b+c=d", Prefix: "app1/pb", ForcePathStyle: true,
			},
			"s3://backups?access_key=KEYID&endpoint=https%3A%2F%2Fs3.us-west-000.backblazeb2.com" +
				"&prefix=app1%2Fpb&region=us-west-000&secret=a%2Fb%2Bc%3Dd&use_path_style=true",
		},
		{shared.S3Config{Bucket: "b", Endpoint: "http://127.0.0.1:9000/"}, "s3://b?endpoint=http%3A%2F%2F127.0.0.1%3A9000"},
	} {
		got := shared.S3URL(tc.cfg)
		if got != tc.want {
			t.Errorf("S3URL(%+v) =\n %s\nwant\n %s", tc.cfg, got, tc.want)
		}
		s, err := storage.Open(t.Context(), got) // no I/O at open
		if err != nil {
			t.Errorf("Open(S3URL(%+v)): %v", tc.cfg, err)
			continue
		}
		s.Close()
	}
	// The secret survives the round trip exactly.
	u, err := url.Parse(shared.S3URL(shared.S3Config{Bucket: "b", AccessKey: "k k", Secret: "s/&=+%?#"}))
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("access_key") != "k k" || q.Get("secret") != "s/&=+%?#" {
		t.Errorf("round trip: %v", q)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b?region=eu&access_key=AKIA1234&secret=abc%2Fdef&prefix=p&endpoint=https%3A%2F%2Fx": "s3://b?region=eu&access_key=REDACTED&secret=REDACTED&prefix=p&endpoint=https%3A%2F%2Fx",
		"s3://b?Secret=x&SECRET=y&secret":                "s3://b?Secret=REDACTED&SECRET=REDACTED&secret=REDACTED",
		"s3://user:pass@b/?token=t":                      "s3://REDACTED@b/?token=REDACTED",
		"azblob://c?sas_token=sv%3D1%26sig%3Dx&domain=d": "azblob://c?sas_token=REDACTED&domain=d",
		"gs://b?access_id=me&private_key_path=/k.pem":    "gs://b?access_id=me&private_key_path=/k.pem",
		"file:///var/a@b/backups":                        "file:///var/a@b/backups",
		"s3://AK:S@b":                                    "s3://REDACTED@b",
		"s3://b/":                                        "s3://b/",
		"file:///var/backups":                            "file:///var/backups",
		"mem://":                                         "mem://",
		"s3://b?x=1#frag-secret":                         "s3://b?x=1#REDACTED",
		"s3://b?sec%72et=hidden":                         "s3://b?sec%72et=REDACTED",
		"s3://b?%zz=hidden":                              "s3://b?REDACTED",
		"http://[::1%zz]:hunter2secret/":                 "[malformed URL REDACTED]",
		shared.S3URL(shared.S3Config{Bucket: "b", AccessKey: "AK", Secret: "S"}): "s3://b?access_key=REDACTED&secret=REDACTED",
	} {
		if got := shared.Redact(in); got != want {
			t.Errorf("Redact(%q) =\n %q\nwant\n %q", in, got, want)
		}
	}
}

// TestOpenS3Errors: bad s3:// URLs are ErrInvalid and never show their
// secrets.
func TestOpenS3Errors(t *testing.T) {
	const ak, sk = "AKIAEXAMPLE0001", "hunter2/secret+0001"
	creds := "access_key=" + ak + "&secret=" + url.QueryEscape(sk)
	for _, u := range []string{
		"s3://bucket?" + creds + "&bogus=1",
		"s3://bucket?access_key=" + ak,
		"s3://bucket?secret=" + url.QueryEscape(sk),
		"s3://bucket?" + creds + "&use_path_style=maybe",
		"s3://bucket?" + creds + "&profile=p",
		"s3://bucket?" + creds + "&ssetype=rot13",
		"s3://bucket?" + creds + "&key=single.zip",
		"s3://bucket?" + creds + "&prefix=../up",
		"s3://bucket?" + creds + "&prefix=/abs",
		"s3://bucket?" + creds + "&prefix=a//b",
		"s3://bucket?" + creds + "&prefix=.hidden",
		"s3://bucket?" + creds + "&prefix=" + strings.Repeat("p", 513),
		"s3://?" + creds,
		"s3://" + ak + ":" + url.PathEscape(sk) + "@bucket?bogus=1",
	} {
		s, err := storage.Open(t.Context(), u)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", shared.Redact(u))
			continue
		}
		t.Logf("Open(%s): %v", shared.Redact(u), err)
		if !errors.Is(err, shared.ErrInvalid) {
			t.Errorf("Open(%q): %v, want ErrInvalid", shared.Redact(u), err)
		}
		for _, secret := range []string{ak, sk, url.QueryEscape(sk), url.PathEscape(sk)} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open(%q): error %q reveals %q", shared.Redact(u), err, secret)
			}
		}
	}
}

package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/pocketbackup/pocketbackup/host/notify"
)

// mailbox is a real SMTP server (emersion/go-smtp) on loopback that keeps
// what it receives.
type mailbox struct {
	host string
	port int

	mu    sync.Mutex
	mails []mail
	auths []string // user names that authenticated
	tls   []bool   // whether each message came over TLS
}

type mail struct {
	from string
	to   []string
	data string
}

type mailSession struct {
	mb     *mailbox
	conn   *smtp.Conn
	from   string
	to     []string
	authed bool
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != "smtp-pass-xyz" {
			return errors.New("invalid credentials")
		}
		s.mb.mu.Lock()
		s.mb.auths = append(s.mb.auths, user)
		s.mb.mu.Unlock()
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	s.mb.mails = append(s.mb.mails, mail{from: s.from, to: s.to, data: string(b)})
	s.mb.tls = append(s.mb.tls, isTLS)
	return nil
}
func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

// startMailbox serves SMTP on loopback: STARTTLS offered when cert is
// set (or TLS from the first byte when implicit).
func startMailbox(t *testing.T, cert *tls.Certificate, implicit bool) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{mb: mb, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.AllowInsecureAuth = true
	var ln net.Listener
	var err error
	if cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	mb.host, mb.port = "127.0.0.1", addr.Port
	return mb
}

func (mb *mailbox) received() ([]mail, []string, []bool) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mail{}, mb.mails...), append([]string{}, mb.auths...), append([]bool{}, mb.tls...)
}

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestEmailModes(t *testing.T) {
	cert, pool := testCert(t)
	for _, tc := range []struct {
		name     string
		mode     string
		cert     bool
		implicit bool
		auth     bool
	}{
		{name: "plain", mode: notify.TLSNone},
		{name: "starttls with auth", mode: notify.TLSStartTLS, cert: true, auth: true},
		{name: "implicit tls with auth", mode: notify.TLSImplicit, cert: true, implicit: true, auth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *tls.Certificate
			if tc.cert {
				c = &cert
			}
			mb := startMailbox(t, c, tc.implicit)
			n := notify.New(notify.Options{App: "myapp", SMTPTLS: &tls.Config{RootCAs: pool},
				Superusers: func(context.Context) ([]string, error) { return []string{"root@example.com"}, nil }})
			defer n.Close()
			em := &notify.Email{Host: mb.host, Port: mb.port, TLS: tc.mode, From: "backups@example.com",
				To: []string{"ops@example.com"}, ToSuperusers: true}
			if tc.auth {
				em.Username, em.Password = "mailer", "smtp-pass-xyz"
			}
			res := n.Test(context.Background(), notify.Config{Email: em})
			if len(res) != 1 || !res[0].OK || res[0].Answer.Status != 250 {
				t.Fatalf("results %+v", res)
			}
			mails, auths, overTLS := mb.received()
			if len(mails) != 1 {
				t.Fatalf("got %d mails", len(mails))
			}
			m := mails[0]
			if m.from != "backups@example.com" || strings.Join(m.to, ",") != "ops@example.com,root@example.com" {
				t.Errorf("envelope from %q to %v", m.from, m.to)
			}
			if !strings.Contains(m.data, "Subject: [myapp] test notification") || !strings.Contains(m.data, "Event: test") {
				t.Errorf("message:\n%s", m.data)
			}
			if strings.Contains(m.data, "smtp-pass-xyz") {
				t.Error("the password is in the message")
			}
			if tc.auth != (len(auths) == 1) {
				t.Errorf("auths %v", auths)
			}
			if overTLS[0] != tc.cert {
				t.Errorf("message over TLS %v, want %v", overTLS[0], tc.cert)
			}
		})
	}
}

func TestEmailStartTLSRequired(t *testing.T) {
	mb := startMailbox(t, nil, false) // offers no STARTTLS
	n := notify.New(notify.Options{})
	defer n.Close()
	res := n.Test(context.Background(), notify.Config{Email: &notify.Email{Host: mb.host, Port: mb.port,
		TLS: notify.TLSStartTLS, Username: "mailer", Password: "smtp-pass-xyz", From: "a@example.com", To: []string{"b@example.com"}}})
	if len(res) != 1 || res[0].OK || !strings.Contains(res[0].Error, "STARTTLS") {
		t.Fatalf("results %+v", res)
	}
	if mails, auths, _ := mb.received(); len(mails) != 0 || len(auths) != 0 {
		t.Errorf("sent in clear: %d mails, %d auths", len(mails), len(auths))
	}
}

func TestEmailUntrustedCertificateRefused(t *testing.T) {
	cert, _ := testCert(t)
	mb := startMailbox(t, &cert, false)
	n := notify.New(notify.Options{}) // system roots: the test certificate is not trusted
	defer n.Close()
	res := n.Test(context.Background(), notify.Config{Email: &notify.Email{Host: mb.host, Port: mb.port,
		TLS: notify.TLSStartTLS, From: "a@example.com", To: []string{"b@example.com"}}})
	if len(res) != 1 || res[0].OK {
		t.Fatalf("results %+v", res)
	}
	if mails, _, _ := mb.received(); len(mails) != 0 {
		t.Error("sent over an unverified connection")
	}
}

package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// smtpTimeout bounds one whole SMTP conversation.
const smtpTimeout = 60 * time.Second

// sendEmail sends ev as a plain-text message through em's server once.
func (n *Notifier) sendEmail(ctx context.Context, em Email, ev Event) (Answer, error) {
	to := append([]string{}, em.To...)
	if em.ToSuperusers {
		if n.opts.Superusers == nil {
			return Answer{}, errors.New("email: no superuser list available")
		}
		more, err := n.opts.Superusers(ctx)
		if err != nil {
			return Answer{}, fmt.Errorf("email: superusers: %w", err)
		}
		to = append(to, more...)
	}
	if len(to) == 0 {
		return Answer{}, errors.New("email: no recipient")
	}
	ctx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()
	addr := net.JoinHostPort(em.Host, strconv.Itoa(em.Port))
	tlsCfg := n.tlsConfig(em.Host)
	var d net.Dialer
	var conn net.Conn
	var err error
	if em.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return Answer{}, fmt.Errorf("email: connect: %w", err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, em.Host)
	if err != nil {
		conn.Close()
		return Answer{}, fmt.Errorf("email: greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return Answer{}, fmt.Errorf("email: hello: %w", err)
	}
	if em.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Answer{}, errors.New("email: the server does not offer STARTTLS")
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return Answer{}, fmt.Errorf("email: starttls: %w", err)
		}
	}
	if em.Username != "" {
		// net/smtp's PLAIN refuses to send the password over a connection
		// that is neither TLS nor to localhost.
		if err := c.Auth(smtp.PlainAuth("", em.Username, em.Password, em.Host)); err != nil {
			return Answer{}, fmt.Errorf("email: auth: %w", err)
		}
	}
	if err := c.Mail(em.From); err != nil {
		return Answer{}, fmt.Errorf("email: MAIL FROM: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return Answer{}, fmt.Errorf("email: RCPT TO: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return Answer{}, fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := w.Write(message(em.From, to, ev)); err != nil {
		return Answer{}, fmt.Errorf("email: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return smtpAnswer(err), fmt.Errorf("email: end of data: %w", err)
	}
	_ = c.Quit()
	return Answer{Status: 250, Text: "message accepted"}, nil
}

func (n *Notifier) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if n.opts.SMTPTLS != nil {
		cfg = n.opts.SMTPTLS.Clone()
	}
	cfg.ServerName = host
	return cfg
}

// smtpAnswer reads the reply code out of a net/smtp error.
func smtpAnswer(err error) Answer {
	msg := err.Error()
	if len(msg) >= 3 {
		if code, convErr := strconv.Atoi(msg[:3]); convErr == nil {
			return Answer{Status: code, Text: oneLine(msg)}
		}
	}
	return Answer{}
}

// message builds the RFC 5322 message of ev.
func message(from string, to []string, ev Event) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := "pocketbackup"
	if at := strings.LastIndexByte(from, '@'); at >= 0 {
		domain = from[at+1:]
	}
	var b strings.Builder
	hdr := func(k, v string) { b.WriteString(k + ": " + oneLine(v) + "\r\n") }
	hdr("From", from)
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", ev.Subject()))
	hdr("Date", ev.Time.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("X-Pocketbackup-Event", ev.Type)
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(ev.Text(), "\n", "\r\n"))
	return []byte(b.String())
}

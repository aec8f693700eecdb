package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// defaultURL is where a local app listens by default.
const defaultURL = "http://127.0.0.1:8090"

// connFlags are the connection settings every online command shares.
type connFlags struct {
	e     env
	URL   string
	Token string
	Email string
}

func addConnFlags(cmd *cobra.Command, e env) *connFlags {
	c := &connFlags{e: e}
	f := cmd.PersistentFlags()
	f.StringVar(&c.URL, "url", "", "the app's address [PB_URL] (default "+defaultURL+")")
	f.StringVar(&c.Token, "token", "", "a superuser auth token (instead of e-mail and password)")
	f.StringVar(&c.Email, "email", "", "the superuser's e-mail [PB_SUPERUSER_EMAIL]; the password comes from PB_SUPERUSER_PASSWORD or a prompt")
	return c
}

// baseURL resolves --url, PB_URL and the default.
func (c *connFlags) baseURL() (*url.URL, error) {
	raw := c.URL
	if raw == "" {
		raw = c.e.get("PB_URL")
	}
	if raw == "" {
		raw = defaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, usagef("--url %q: want http(s)://HOST[:PORT] without user info", raw)
	}
	return u, nil
}

// connect returns a client logged in as a superuser.
func (c *connFlags) connect(ctx context.Context) (*client, error) {
	u, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	cl := &client{base: u, http: &http.Client{}}
	if c.Token != "" {
		cl.token = c.Token
		return cl, nil
	}
	email := c.Email
	if email == "" {
		email = c.e.get("PB_SUPERUSER_EMAIL")
	}
	password := c.e.get("PB_SUPERUSER_PASSWORD")
	if email == "" {
		return nil, usagef("no credentials: set PB_SUPERUSER_EMAIL and PB_SUPERUSER_PASSWORD, or pass --token")
	}
	if password == "" {
		if password, err = c.prompt(email); err != nil {
			return nil, err
		}
	}
	cl.login = func(ctx context.Context) (string, error) { return authWithPassword(ctx, cl, email, password) }
	if cl.token, err = cl.login(ctx); err != nil {
		return nil, err
	}
	return cl, nil
}

// prompt asks for the password without echo, on a terminal only.
func (c *connFlags) prompt(email string) (string, error) {
	in, ok := c.e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", usagef("no password: set PB_SUPERUSER_PASSWORD, pass --token, or run on a terminal to be asked")
	}
	fmt.Fprintf(c.e.Stderr, "Password for %s: ", email)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(c.e.Stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", usagef("empty password")
	}
	return p, nil
}

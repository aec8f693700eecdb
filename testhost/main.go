// Command testhost is a small real host app shaped like PocketBase's CLI:
// a pb_data directory with SQLite databases (data.db, auxiliary.db), a
// _superusers table PocketBase's own data opens with, a superuser-only demo
// collection (notes), and the backups REST API of package host, served by a
// backup plugin.
//
//	testhost serve [--http=127.0.0.1:8090] [--dir=./pb_data] [--plugins=./bin/plugins] [--storage=URL]
//	               [--trusted-proxies=LIST] [--logs-max-days=5] [--metrics-http=ADDR]
//	               [--encryption-key-file=FILE]
//	testhost superuser upsert EMAIL PASSWORD [--dir=./pb_data]
//	testhost user upsert EMAIL PASSWORD [--dir=./pb_data]
//	testhost backups list|create|upload|download|delete|verify|restore … (package host/cli)
//
// Flags and positional arguments may come in any order. Exit codes: 0 ok,
// 1 runtime error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/clientip"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// Defaults of the serve flags.
const (
	defaultHTTP       = "127.0.0.1:8090"
	defaultDataDir    = "./pb_data"
	defaultPluginsDir = "./bin/plugins"
)

// Password rules: PocketBase's minimum; bcrypt reads at most 72 bytes.
const (
	minPasswordLen   = 8
	maxPasswordBytes = 72
	maxEmailLen      = 255
)

const usageText = `testhost: a PocketBase-style app with the pocketbackup backups API.

Usage:
  testhost serve [flags]                            start the web server
  testhost superuser upsert EMAIL PASSWORD [flags]  create or update a superuser
  testhost user upsert EMAIL PASSWORD [flags]       create or update a "users" record
  testhost backups COMMAND [flags]                  list, create, download, restore… backups

Run "testhost COMMAND -h" for the flags of a command.
`

const serveUsage = `Usage: testhost serve [flags]

Starts the web server. With PB_SUPERUSER_EMAIL and PB_SUPERUSER_PASSWORD set,
that superuser is created or updated first; without them, when no superuser
exists, one is created and its password printed once.

Flags (environment fallback in brackets):
  --http=ADDR      address to listen on [PB_HTTP] (default ` + defaultHTTP + `)
  --dir=DIR        the pb_data directory [PB_DATA_DIR] (default ` + defaultDataDir + `)
  --plugins=DIR    directory holding the backup plugin [PB_PLUGINS_DIR] (default ` + defaultPluginsDir + `)
  --plugin=NAME    plugin file name in that directory (default: its single executable)
  --plugin-sha256=HEX  expected SHA-256 of the plugin [PB_PLUGIN_SHA256] (default: read NAME.sha256)
  --storage=URL    where backups go, a gocloud URL [PB_BACKUPS_STORAGE] (default file://DIR/backups)
  --trusted-proxies=LIST  reverse proxies (addresses or CIDRs, comma separated) whose
                   X-Forwarded-For / X-Real-IP name the client [PB_TRUSTED_PROXIES] (default none)
  --logs-max-days=N  days request logs are kept; 0 logs no requests [PB_LOGS_MAX_DAYS] (default 5)
  --metrics-http=ADDR  also serve GET /metrics here without authentication, for a scraper
                   in a private network [PB_METRICS_HTTP] (default none: only on --http,
                   for a superuser's token)
  --encryption-key-file=FILE  age identities (one a line, newest first) that turn encryption
                   at rest on [PB_BACKUPS_ENCRYPTION_KEY_FILE]; or the identities themselves
                   in PB_BACKUPS_ENCRYPTION_KEY (default: backups stored in clear)
`

const upsertUsage = `Usage: testhost %s upsert EMAIL PASSWORD [flags]

Creates the record, or sets the password of an existing one (e-mail matched
case-insensitively). Either way every token issued before stops working.

Flags (environment fallback in brackets):
  --dir=DIR        the pb_data directory [PB_DATA_DIR] (default ` + defaultDataDir + `)
`

// usageError is a command line the program cannot run; its text is shown
// with the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	if code, ok := host.RunChecker(); ok {
		os.Exit(code) // this process is a restore's database checker
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	usage := usageText
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "serve":
		usage = serveUsage
		var opts serveOptions
		if opts, err = parseServeArgs(rest, getenv); err == nil {
			err = serve(ctx, opts, stdout, stderr)
		}
	case "backups":
		return runBackups(ctx, rest, getenv, stdin, stdout, stderr)
	case "superuser", "user":
		usage = fmt.Sprintf(upsertUsage, cmd)
		collectionID := auth.SuperusersID
		if cmd == "user" {
			collectionID = usersCollectionID
		}
		var opts upsertOptions
		if opts, err = parseUpsertArgs(rest, getenv); err == nil {
			err = upsertCommand(ctx, collectionID, opts, stdout)
		}
	default:
		err = usageErrorf("unknown command %q", cmd)
	}
	var uerr *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "Error: %s\n\n%s", uerr.msg, usage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitRuntime
	}
}

// serveOptions are the settings of the serve command.
type serveOptions struct {
	HTTP              string
	DataDir           string // absolute
	PluginsDir        string // absolute
	PluginName        string
	PluginSHA256      string
	StorageURL        string
	SuperuserEmail    string
	SuperuserPassword string
	// StopBeforeRestart, for the end-to-end tests only
	// (TESTHOST_STOP_BEFORE_RESTART=1): see holdThenExec.
	StopBeforeRestart bool
	TrustedProxies    clientip.Proxies
	LogsMaxDays       int
	MetricsHTTP       string
	// EncryptionKeys is the text of the age keys (secret: never printed).
	EncryptionKeys string

	limits serverLimits // defaultLimits; tests change them
}

// parseServeArgs reads the serve command line; flags win over the
// environment, which wins over the defaults.
func parseServeArgs(args []string, getenv func(string) string) (serveOptions, error) {
	fs := newFlagSet("serve")
	o := serveOptions{limits: defaultLimits}
	fs.StringVar(&o.HTTP, "http", defaultHTTP, "")
	fs.StringVar(&o.DataDir, "dir", defaultDataDir, "")
	fs.StringVar(&o.PluginsDir, "plugins", defaultPluginsDir, "")
	fs.StringVar(&o.PluginName, "plugin", "", "")
	fs.StringVar(&o.PluginSHA256, "plugin-sha256", "", "")
	fs.StringVar(&o.StorageURL, "storage", "", "")
	var proxies string
	fs.StringVar(&proxies, "trusted-proxies", "", "")
	fs.IntVar(&o.LogsMaxDays, "logs-max-days", defaultLogsDays, "")
	fs.StringVar(&o.MetricsHTTP, "metrics-http", "", "")
	var keyFile string
	fs.StringVar(&keyFile, "encryption-key-file", "", "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return serveOptions{}, err
	}
	if len(positional) > 0 {
		return serveOptions{}, usageErrorf("serve takes no arguments, got %q", positional)
	}
	if err := envFallback(fs, getenv, map[string]string{
		"http": "PB_HTTP", "dir": "PB_DATA_DIR", "plugins": "PB_PLUGINS_DIR", "storage": "PB_BACKUPS_STORAGE",
		"plugin-sha256": "PB_PLUGIN_SHA256", "trusted-proxies": "PB_TRUSTED_PROXIES", "logs-max-days": "PB_LOGS_MAX_DAYS",
		"metrics-http":        "PB_METRICS_HTTP",
		"encryption-key-file": "PB_BACKUPS_ENCRYPTION_KEY_FILE",
	}); err != nil {
		return serveOptions{}, err
	}
	if o.EncryptionKeys, err = encryptionKeys(keyFile, getenv("PB_BACKUPS_ENCRYPTION_KEY")); err != nil {
		return serveOptions{}, err
	}
	if o.TrustedProxies, err = clientip.Parse(proxies); err != nil {
		return serveOptions{}, usageErrorf("--trusted-proxies: %v", err)
	}
	if o.LogsMaxDays < 0 {
		return serveOptions{}, usageErrorf("--logs-max-days must not be negative")
	}
	if o.HTTP == "" {
		return serveOptions{}, usageErrorf("--http must not be empty")
	}
	if o.DataDir, err = absDir("--dir", o.DataDir); err != nil {
		return serveOptions{}, err
	}
	if o.PluginsDir, err = absDir("--plugins", o.PluginsDir); err != nil {
		return serveOptions{}, err
	}
	o.SuperuserEmail = getenv("PB_SUPERUSER_EMAIL")
	o.SuperuserPassword = getenv("PB_SUPERUSER_PASSWORD")
	o.StopBeforeRestart = getenv("TESTHOST_STOP_BEFORE_RESTART") == "1"
	if (o.SuperuserEmail == "") != (o.SuperuserPassword == "") {
		return serveOptions{}, usageErrorf("PB_SUPERUSER_EMAIL and PB_SUPERUSER_PASSWORD must be set together")
	}
	if o.SuperuserEmail != "" {
		if err := validateCredentials(o.SuperuserEmail, o.SuperuserPassword); err != nil {
			return serveOptions{}, usageErrorf("PB_SUPERUSER_EMAIL/PB_SUPERUSER_PASSWORD: %v", err)
		}
	}
	return o, nil
}

// encryptionKeys returns the age keys' text from the key file, or from
// the variable's value when there is no file; both is a usage error. The
// text is checked by host.New.
func encryptionKeys(file, value string) (string, error) {
	switch {
	case file != "" && value != "":
		return "", usageErrorf("--encryption-key-file and PB_BACKUPS_ENCRYPTION_KEY: set only one")
	case file == "":
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usageErrorf("--encryption-key-file: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return "", usageErrorf("--encryption-key-file: %s is empty", file)
	}
	return string(b), nil
}

// upsertOptions are the settings of the superuser/user upsert commands.
type upsertOptions struct {
	Email    string
	Password string
	DataDir  string // absolute
}

// parseUpsertArgs reads "upsert EMAIL PASSWORD [--dir=DIR]".
func parseUpsertArgs(args []string, getenv func(string) string) (upsertOptions, error) {
	fs := newFlagSet("upsert")
	var o upsertOptions
	fs.StringVar(&o.DataDir, "dir", defaultDataDir, "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return upsertOptions{}, err
	}
	if err := envFallback(fs, getenv, map[string]string{"dir": "PB_DATA_DIR"}); err != nil {
		return upsertOptions{}, err
	}
	if len(positional) == 0 {
		return upsertOptions{}, usageErrorf("missing subcommand (upsert)")
	}
	if positional[0] != "upsert" {
		return upsertOptions{}, usageErrorf("unknown subcommand %q (only upsert is supported)", positional[0])
	}
	if len(positional) != 3 {
		return upsertOptions{}, usageErrorf("upsert takes EMAIL and PASSWORD")
	}
	o.Email, o.Password = positional[1], positional[2]
	if err := validateCredentials(o.Email, o.Password); err != nil {
		return upsertOptions{}, usageErrorf("%v", err)
	}
	if o.DataDir, err = absDir("--dir", o.DataDir); err != nil {
		return upsertOptions{}, err
	}
	return o, nil
}

// upsertCommand runs "superuser upsert" or "user upsert".
func upsertCommand(ctx context.Context, collectionID string, o upsertOptions, stdout io.Writer) (err error) {
	a, err := openApp(ctx, o.DataDir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Close()) }()
	if _, err := upsertAuthRecord(ctx, a.db, collectionID, o.Email, o.Password); err != nil {
		return err
	}
	what := "superuser"
	if collectionID == usersCollectionID {
		what = "user"
	}
	_, err = fmt.Fprintf(stdout, "Successfully saved %s %s!\n", what, o.Email)
	return err
}

// validateCredentials checks an e-mail and password before they are saved.
func validateCredentials(email, password string) error {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email || len(email) > maxEmailLen {
		return fmt.Errorf("%q is not a valid e-mail address", email)
	}
	if utf8.RuneCountInString(password) < minPasswordLen || len(password) > maxPasswordBytes {
		return fmt.Errorf("the password must be at least %d characters and at most %d bytes", minPasswordLen, maxPasswordBytes)
	}
	return nil
}

// newFlagSet returns a flag set that reports errors to its caller only.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseInterspersed parses args with fs, allowing flags after positional
// arguments (as PocketBase's CLI does); everything after "--" is
// positional. It returns the positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErrorf("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// envFallback sets each flag of fs that was not given on the command line
// from its environment variable, when that is set; a value the flag
// refuses is a usage error.
func envFallback(fs *flag.FlagSet, getenv func(string) string, vars map[string]string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, env := range vars {
		if given[name] {
			continue
		}
		if v := getenv(env); v != "" {
			if err := fs.Set(name, v); err != nil {
				return usageErrorf("%s=%q: %v", env, v, err)
			}
		}
	}
	return nil
}

// absDir returns dir made absolute; flag names the option in errors.
func absDir(flag, dir string) (string, error) {
	if strings.TrimSpace(dir) == "" {
		return "", usageErrorf("%s must not be empty", flag)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return abs, nil
}

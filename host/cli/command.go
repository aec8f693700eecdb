package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit statuses: see ExitCode.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitBusy        = 3
	ExitInterrupted = 130
)

// Options wires the commands to their process. Zero values fall back to
// the process's own streams; Getenv nil means no environment at all (the
// package never reads it behind its caller's back).
type Options struct {
	// Stdin, Stdout and Stderr default to the process's.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads PB_URL, PB_SUPERUSER_EMAIL, PB_SUPERUSER_PASSWORD and,
	// for the offline commands, PB_DATA_DIR, PB_PLUGINS_DIR,
	// PB_BACKUPS_STORAGE and PB_PLUGIN_SHA256.
	Getenv func(string) string
	// DataDir and PluginsDir are the offline commands' defaults for --dir
	// and --plugins; "./pb_data" and "./bin/plugins" when empty.
	DataDir    string
	PluginsDir string
	// Exclude is the app's host.Config.Exclude, for offline creates and
	// restores.
	Exclude []string
	// PollInterval is how often --wait reads /api/health; 250 ms when 0.
	PollInterval time.Duration
	// Terminal forces (true) or forbids (false) progress bars and the
	// password prompt; nil means: bars when Stderr is a terminal.
	Terminal *bool
}

// env is the options' view of the environment.
type env struct {
	Options
}

func (e env) get(name string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(name)
}

// isTerminal reports whether progress bars and prompts may be drawn.
func (e env) isTerminal() bool {
	if e.Terminal != nil {
		return *e.Terminal
	}
	f, ok := e.Stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (e env) poll() time.Duration {
	if e.PollInterval > 0 {
		return e.PollInterval
	}
	return 250 * time.Millisecond
}

// NewBackupsCommand returns the "backups" command with its subcommands.
// Mount it on the app's root command; run the root with
// ExecuteContext and exit with ExitCode of its error.
func NewBackupsCommand(opts Options) *cobra.Command {
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.DataDir == "" {
		opts.DataDir = "./pb_data"
	}
	if opts.PluginsDir == "" {
		opts.PluginsDir = "./bin/plugins"
	}
	e := env{opts}
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "Create, list, download, verify and restore backups",
		Long: `Backups of a running app over its REST API (--url, PB_URL), or of a stopped
app's data directory with --offline.

Credentials: --token, or PB_SUPERUSER_EMAIL and PB_SUPERUSER_PASSWORD, or a
password prompt (with --email or PB_SUPERUSER_EMAIL) when run on a terminal.

Exit status: 0 done, 1 the operation failed, 2 usage error, 3 another
backup or restore is running (try again when it ends), 130 stopped waiting
(Ctrl-C; the app's operation goes on).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usagef("unknown command %q for %q", a[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("missing command: run %q for the list", cmd.CommandPath()+" --help")
		},
	}
	cmd.SetOut(opts.Stdout)
	cmd.SetErr(opts.Stderr)
	cmd.SetIn(opts.Stdin)
	conn := addConnFlags(cmd, e)
	cmd.AddCommand(
		newListCommand(e, conn),
		newCreateCommand(e, conn),
		newUploadCommand(e, conn),
		newDownloadCommand(e, conn),
		newDeleteCommand(e, conn),
		newVerifyCommand(e, conn),
		newRestoreCommand(e, conn),
		newDecryptCommand(e),
	)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd
}

// usageError is a command line that cannot run.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// isCobraUsage recognises cobra's own command-line errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// args checks the number of positional arguments, as a usage error.
func args(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) < min || len(a) > max {
			if min == max {
				return usagef("%s takes %d argument(s), got %d", cmd.CommandPath(), min, len(a))
			}
			return usagef("%s takes %d to %d arguments, got %d", cmd.CommandPath(), min, max, len(a))
		}
		return nil
	}
}

// errBusy marks "another backup/restore is running".
var errBusy = errors.New("another backup or restore is running")

// errStoppedWaiting is Ctrl-C during --wait.
var errStoppedWaiting = errors.New("stopped waiting")

// ExitCode maps an error returned by the commands to the exit status:
// nil 0, a usage error 2, a busy app 3, Ctrl-C while waiting 130, any
// other 1. Cobra's own errors (unknown command or flag, wrong number of
// arguments) count as usage errors.
func ExitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u):
		return ExitUsage
	case errors.Is(err, errBusy):
		return ExitBusy
	case errors.Is(err, errStoppedWaiting), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case isCobraUsage(err):
		return ExitUsage
	}
	return ExitFailed
}

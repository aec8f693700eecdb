package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// createOptions are the settings of "backups create".
type createOptions struct {
	Name    string
	Wait    bool
	JSON    bool
	Offline offlineFlags
	Output  string
}

// opResult is what create, verify and restore print with --json, and what
// their text view says.
type opResult struct {
	Kind    string  `json:"kind"`
	Key     string  `json:"key"`
	Status  string  `json:"status"` // started, done or failed
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	// DownSeconds is how long a restore kept the API down (restore --wait).
	DownSeconds *float64 `json:"downSeconds,omitempty"`
	Output      string   `json:"output,omitempty"`
	Size        int64    `json:"size,omitempty"`
}

func newCreateCommand(e env, conn *connFlags) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create a backup (online), or archive a stopped app's data dir (--offline)",
		Long: `Asks the app to create a backup named NAME (default pb_backup_<UTC time>.zip).
With --wait, shows its progress and outcome. With --offline, archives the
data directory --dir of an app that is not running into a file (-o FILE)
or a storage URL (--storage), the same zip the API makes.`,
		Args: args(0, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) == 1 {
				o.Name = a[0]
			}
			if o.Offline.On {
				return runOfflineCreate(cmd.Context(), e, o)
			}
			if o.Output != "" {
				return usagef("-o is for --offline; download a backup of a running app with `backups download KEY -o FILE`")
			}
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runCreate(cmd.Context(), e, c, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Wait, "wait", false, "show progress and wait for the outcome")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	f.StringVarP(&o.Output, "output", "o", "", "with --offline: the zip file to write")
	o.Offline.add(cmd, e)
	return cmd
}

// autoName is the API's default backup name.
func autoName(now time.Time) string {
	return "pb_backup_" + now.UTC().Format("20060102150405") + ".zip"
}

func runCreate(ctx context.Context, e env, c *client, o createOptions) error {
	key := o.Name
	if key == "" {
		key = autoName(time.Now())
	}
	before, err := lastOutcome(ctx, c)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.do(ctx, http.MethodPost, "/api/backups", map[string]string{"name": key}, nil); err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	res := opResult{Kind: "create", Key: key, Status: "started"}
	if !o.Wait {
		return printResult(e, o.JSON, res, fmt.Sprintf("Creating backup %s in the background: follow it with `backups list`, or pass --wait.", key))
	}
	return waitAndReport(ctx, e, c, &waiter{e: e, c: c, kind: "create", key: key, before: before}, res, start, o.JSON)
}

// lastOutcome is /api/health's lastOperation now, so a wait can tell the
// new outcome from an old one.
func lastOutcome(ctx context.Context, c *client) (*outcome, error) {
	d, super, err := c.health(ctx)
	if err != nil {
		return nil, fmt.Errorf("read /api/health: %w", err)
	}
	if !super {
		return nil, fmt.Errorf("the app does not take this token as a superuser's: check --token or the credentials")
	}
	return d.LastOperation, nil
}

// waitAndReport follows an operation to its outcome and prints it.
func waitAndReport(ctx context.Context, e env, c *client, w *waiter, res opResult, start time.Time, asJSON bool) error {
	what := map[string]string{"create": "Backup", "restore": "Restore of", "verify": "Verify of"}[w.kind]
	w.prog = newProgress(e, w.kind+" "+w.key)
	r, err := w.wait(ctx)
	if err != nil {
		w.prog.Done(false)
		return err
	}
	o := r.Outcome
	w.prog.Done(o.OK)
	res.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
	if w.restart {
		d := r.Down.Round(time.Millisecond).Seconds()
		res.DownSeconds = &d
	}
	if o.OK {
		res.Status = "done"
	} else {
		res.Status, res.Error = "failed", o.Error
	}
	if asJSON {
		if err := printJSON(e.Stdout, res); err != nil {
			return err
		}
		if !o.OK {
			return fmt.Errorf("%s %s failed: %s", what, o.Key, o.Error)
		}
		return nil
	}
	if w.restart {
		if r.DownSeen {
			fmt.Fprintf(e.Stdout, "The API was down for about %s while the app restarted.\n", r.Down.Round(time.Millisecond))
		} else {
			fmt.Fprintf(e.Stdout, "The API was down for less than %s (no poll fell into the restart).\n", e.poll()/2)
		}
	}
	if !o.OK {
		return fmt.Errorf("%s %s failed: %s", what, o.Key, o.Error)
	}
	fmt.Fprintf(e.Stdout, "%s %s: done in %s.\n", what, o.Key, time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond))
	return nil
}

// printResult prints res as JSON or text.
func printResult(e env, asJSON bool, res opResult, text string) error {
	if asJSON {
		return printJSON(e.Stdout, res)
	}
	_, err := fmt.Fprintln(e.Stdout, text)
	return err
}

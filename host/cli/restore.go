package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// restoreOptions are the settings of "backups restore".
type restoreOptions struct {
	Key     string
	Wait    bool
	Yes     bool
	JSON    bool
	Offline offlineFlags
}

func newRestoreCommand(e env, conn *connFlags) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore KEY | --offline FILE|KEY",
		Short: "Replace the app's data with a backup's",
		Long: `Asks the app to restore backup KEY: it replaces the app's data and restarts
the app. You are asked to type the backup's name to confirm, unless --yes.
With --wait, follows the app through its restart and prints how long the
API was down and the outcome. With --offline, restores into the data dir
--dir of an app that is not running (a local zip FILE, or KEY in --storage).`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Key = a[0]
			if !o.Yes {
				if err := confirm(e, o.Key); err != nil {
					return err
				}
			}
			if o.Offline.On {
				return runOfflineRestore(cmd.Context(), e, o)
			}
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runRestore(cmd.Context(), e, c, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Wait, "wait", false, "follow the app through its restart and report the outcome")
	f.BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	o.Offline.add(cmd, e)
	return cmd
}

// confirm asks the person to type the backup's name, as PocketBase's
// admin UI does.
func confirm(e env, key string) error {
	fmt.Fprintf(e.Stderr, "This replaces ALL of the app's data with the backup's.\nType the backup's name (%s) to confirm: ", key)
	line, err := bufio.NewReader(e.Stdin).ReadString('\n')
	if f, ok := e.Stdin.(*os.File); err != nil || !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(e.Stderr) // no terminal echoed the typed line's end
	}
	if strings.TrimSpace(line) != key {
		return usagef("restore not confirmed (the name typed did not match): nothing was changed; pass --yes to skip the question")
	}
	return nil
}

func runRestore(ctx context.Context, e env, c *client, o restoreOptions) error {
	before, err := lastOutcome(ctx, c)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.do(ctx, http.MethodPost, keyPath(o.Key, "/restore"), nil, nil); err != nil {
		return fmt.Errorf("restore %s: %w", o.Key, err)
	}
	res := opResult{Kind: "restore", Key: o.Key, Status: "started"}
	if !o.Wait {
		return printResult(e, o.JSON, res, fmt.Sprintf("Restoring %s: the app restarts when the data is swapped in. Pass --wait to follow it.", o.Key))
	}
	return waitAndReport(ctx, e, c, &waiter{e: e, c: c, kind: "restore", key: o.Key, before: before, restart: true}, res, start, o.JSON)
}

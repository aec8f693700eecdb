package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/spf13/cobra"
)

// verifyOptions are the settings of "backups verify".
type verifyOptions struct {
	Key     string
	Deep    bool
	Wait    bool
	JSON    bool
	Offline offlineFlags
}

func newVerifyCommand(e env, conn *connFlags) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify KEY | --offline FILE",
		Short: "Check that a backup is readable and whole",
		Long: `Asks the app to verify backup KEY: quick (the archive's structure and every
entry's checksum) or --deep (also extracts it and checks its databases).
With --offline, checks a local zip FILE without any app.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Key = a[0]
			if o.Offline.On {
				return runOfflineVerify(cmd.Context(), e, o)
			}
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runVerify(cmd.Context(), e, c, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Deep, "deep", false, "also extract the backup and check its databases")
	f.BoolVar(&o.Wait, "wait", false, "show progress and wait for the outcome")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	o.Offline.add(cmd, e)
	return cmd
}

func runVerify(ctx context.Context, e env, c *client, o verifyOptions) error {
	mode := "quick"
	if o.Deep {
		mode = "deep"
	}
	before, err := lastOutcome(ctx, c)
	if err != nil {
		return err
	}
	start := time.Now()
	err = c.do(ctx, http.MethodPost, keyPath(o.Key, "/verify"), map[string]string{"mode": mode}, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		// Unknown key, or an app without the verify endpoint.
		list, lerr := listBackups(ctx, c)
		if lerr == nil && slices.ContainsFunc(list, func(b backupEntry) bool { return b.Key == o.Key }) {
			return fmt.Errorf("verify %s: this app has no verify endpoint (POST /api/backups/{key}/verify); update it, or download the backup and run `backups verify --offline FILE`", o.Key)
		}
		return fmt.Errorf("verify %s: no such backup: see `backups list`", o.Key)
	}
	if err != nil {
		return fmt.Errorf("verify %s: %w", o.Key, err)
	}
	res := opResult{Kind: "verify", Key: o.Key, Status: "started"}
	if !o.Wait {
		return printResult(e, o.JSON, res, fmt.Sprintf("Verifying %s (%s) in the background: follow it with `backups list`, or pass --wait.", o.Key, mode))
	}
	return waitAndReport(ctx, e, c, &waiter{e: e, c: c, kind: "verify", key: o.Key, before: before}, res, start, o.JSON)
}

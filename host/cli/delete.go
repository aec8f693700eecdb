package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

// deleteOptions are the settings of "backups delete".
type deleteOptions struct {
	Key  string
	JSON bool
}

func newDeleteCommand(e env, conn *connFlags) *cobra.Command {
	var o deleteOptions
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a backup",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Key = a[0]
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runDelete(cmd.Context(), e, c, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}

func runDelete(ctx context.Context, e env, c *client, o deleteOptions) error {
	if err := c.do(ctx, http.MethodDelete, keyPath(o.Key, ""), nil, nil); err != nil {
		return fmt.Errorf("delete %s: %w", o.Key, err)
	}
	return printResult(e, o.JSON, opResult{Kind: "delete", Key: o.Key, Status: "done"}, fmt.Sprintf("Deleted %s.", o.Key))
}

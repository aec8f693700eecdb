package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// backupEntry is one backup as GET /api/backups lists it, with the fields
// that only some apps send (digests, verification, pins).
type backupEntry struct {
	Key        string `json:"key"`
	Size       int64  `json:"size"`
	Modified   string `json:"modified"`
	SHA256     string `json:"sha256,omitempty"`
	Pinned     bool   `json:"pinned,omitempty"`
	Verify     any    `json:"verify,omitempty"`
	VerifiedAt string `json:"verifiedAt,omitempty"`
}

// listOptions are the settings of "backups list".
type listOptions struct {
	JSON bool
}

func newListCommand(e env, conn *connFlags) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backups, newest first",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.connect(cmd.Context())
			if err != nil {
				return err
			}
			return runList(cmd.Context(), c, o, e.Stdout)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON (for scripts)")
	return cmd
}

// listBackups returns the backups, newest first.
func listBackups(ctx context.Context, c *client) ([]backupEntry, error) {
	var list []backupEntry
	if err := c.do(ctx, http.MethodGet, "/api/backups", nil, &list); err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Modified != list[j].Modified {
			return list[i].Modified > list[j].Modified // the contract's dates sort as text
		}
		return list[i].Key < list[j].Key
	})
	if list == nil {
		list = []backupEntry{}
	}
	return list, nil
}

func runList(ctx context.Context, c *client, o listOptions, out io.Writer) error {
	list, err := listBackups(ctx, c)
	if err != nil {
		return err
	}
	if o.JSON {
		return printJSON(out, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "No backups yet: make one with `backups create`.")
		return nil
	}
	var hasDigest, hasVerify, hasPin bool
	for _, b := range list {
		hasDigest = hasDigest || b.SHA256 != ""
		hasVerify = hasVerify || b.Verify != nil || b.VerifiedAt != ""
		hasPin = hasPin || b.Pinned
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	head := []string{"KEY", "SIZE", "MODIFIED"}
	if hasPin {
		head = append(head, "PINNED")
	}
	if hasVerify {
		head = append(head, "VERIFIED", "VERIFIED AT")
	}
	if hasDigest {
		head = append(head, "SHA-256")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, b := range list {
		row := []string{b.Key, humanBytes(b.Size), shortDate(b.Modified)}
		if hasPin {
			row = append(row, yesNo(b.Pinned))
		}
		if hasVerify {
			row = append(row, verifyText(b.Verify), shortDate(b.VerifiedAt))
		}
		if hasDigest {
			row = append(row, b.SHA256)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// shortDate turns the contract's "2006-01-02 15:04:05.000Z" into
// "2006-01-02 15:04:05 UTC"; other text is shown as it is.
func shortDate(s string) string {
	if s == "" {
		return "-"
	}
	if t, err := time.Parse("2006-01-02 15:04:05.000Z", s); err == nil {
		return t.Format("2006-01-02 15:04:05") + " UTC"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// verifyText shows the verify field whatever its shape ("ok", a message,
// or an object).
func verifyText(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	case map[string]any:
		if ok, _ := v["ok"].(bool); ok {
			return "ok"
		}
		if msg, _ := v["error"].(string); msg != "" {
			return msg
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// printJSON writes v indented, for scripts.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

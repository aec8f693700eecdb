package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/pocketbackup/pocketbackup/host/cli"
)

// runBackups runs "testhost backups …", the operator's command line of
// package host/cli, mounted on a cobra root the way any app mounts it.
// It returns the exit code.
func runBackups(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := &cobra.Command{Use: "testhost", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cli.NewBackupsCommand(cli.Options{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv,
		DataDir: defaultDataDir, PluginsDir: defaultPluginsDir}))
	root.SetArgs(append([]string{"backups"}, args...))
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return cli.ExitCode(err)
}

// stdin is the process's standard input (a variable so tests can pass
// their own through run).
var stdin io.Reader = os.Stdin

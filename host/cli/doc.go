// Package cli is an operator's command line for backups, as cobra commands
// that any app embedding package host mounts on its root command in one
// line:
//
//	root.AddCommand(cli.NewBackupsCommand(cli.Options{Getenv: os.Getenv}))
//
// The online commands (list, create, upload, download, delete, verify,
// restore) are one more client of the REST contract the SDKs use: they talk
// to a running app over HTTP and never to its plugin, so they work the same
// against a local or a remote app. The offline commands (create, restore
// and verify with --offline) work on a data directory no app is serving,
// through package host's Offline, which runs the same snapshot, checks,
// journal and swap as the app does and refuses while an app holds the data
// directory.
//
// Commands return errors and never exit: ExitCode maps an error to the
// documented exit status (0 done, 1 failed, 2 usage, 3 another backup or
// restore is running, 130 stopped waiting on Ctrl-C).
package cli

//go:build !unix

package host

// Package host runs on Unix only: the plugin listens on a Unix socket in a
// private directory, is handed over across exec (ExecSelf) and reaped by
// PID, and downloads open files with O_NOFOLLOW. The platform-specific
// parts live in *_unix.go and *_linux.go files; this undefined name makes
// a build for any other platform fail here, saying so.
var _ = hostPackageNeedsUnix

package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// A restore's staged databases are checked in a child process: the app's
// own executable started again with checkerEnv naming the staged folder,
// which this package's init turns into a checker before the app's main
// runs. Two reasons:
//
//   - Memory. modernc's SQLite (built with SQLITE_ENABLE_MEMORY_MANAGEMENT)
//     keeps one page-cache LRU for every connection of the process, so a
//     check running beside the serving app takes over the pages the app's
//     reads free: the app's memory grew with the length of the check (make
//     bench: +11 MiB for a 1 GiB data.db, +20 MiB for 2 GiB). In a process
//     of its own the check holds its default cache (~2 MiB) at any size.
//   - Isolation. The staged files came from an archive anyone with a
//     superuser token could upload; a database built to crash SQLite or
//     exhaust memory stops the checker, not the app.
const checkerEnv = "POCKETBACKUP_CHECK_DATABASES"

// checkerVerdict is the exit status of a checker that ran its check and
// found the databases broken; its standard output says why.
const checkerVerdict = 3

func init() {
	if dir, ok := os.LookupEnv(checkerEnv); ok {
		os.Exit(runChecker(dir))
	}
}

// runChecker is the checker process: it checks the databases in dir and
// returns the exit status.
func runChecker(dir string) int {
	if err := verifyDatabases(context.Background(), dir); err != nil {
		fmt.Fprint(os.Stdout, err)
		return checkerVerdict
	}
	return 0
}

// errCheckFailed marks a check that ran and found the databases broken (as
// against a checker that could not run or died).
var errCheckFailed = errors.New("database check failed")

// verifyInChild checks the databases at the top of dir (see verifyDatabases)
// in a checker process and returns its PID. Broken databases give an error
// wrapping errCheckFailed; a checker that dies gives another error: either
// way the restore stops before the app is touched.
func verifyInChild(ctx context.Context, dir string) (int, error) {
	exe, err := selfExecutable()
	if err != nil {
		return 0, fmt.Errorf("database checker: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), checkerEnv+"="+dir)
	cmd.Dir = dir
	out := &cappedBuffer{max: 4 << 10}
	errOut := &cappedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.WaitDelay = 5 * time.Second
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start database checker %s: %w", exe, err)
	}
	pid := cmd.Process.Pid
	err = cmd.Wait()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return pid, ctxErr
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return pid, nil
	case errors.As(err, &exit) && exit.ExitCode() == checkerVerdict:
		return pid, fmt.Errorf("%w: %s", errCheckFailed, strings.TrimSpace(out.String()))
	default:
		return pid, fmt.Errorf("database checker (pid %d): %w: %s", pid, err, strings.TrimSpace(errOut.String()))
	}
}

// selfExecutable is the running program's file: /proc/self/exe where there
// is one (the same image even if the file was replaced since), else
// os.Executable.
func selfExecutable() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// cappedBuffer keeps the first max bytes written to it and drops the rest,
// so a chatty child cannot grow the app's memory.
type cappedBuffer struct {
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string { return b.buf.String() }

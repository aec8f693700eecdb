package sqlitesnap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A restore's staged databases are checked in a child process: the app's
// own executable started again with checkerEnv naming the staged folder,
// which CheckerChild, called first thing in the app's main, turns into a
// checker. Two reasons:
//
//   - Memory. modernc's SQLite (built with SQLITE_ENABLE_MEMORY_MANAGEMENT)
//     keeps one page-cache LRU for every connection of the process, so a
//     check running beside the serving app takes over the pages the app's
//     reads free: the app's memory grew with the length of the check
//     (bench/NOTES.md). In a process of its own the check holds a small
//     fixed cache at any size.
//   - Isolation. The staged files came from an archive anyone with a
//     superuser token could upload; a database built to crash SQLite or
//     exhaust memory stops the checker, not the app.
//
// The checker is bounded (see Limits): it is killed when it runs
// past its time, and its memory is capped from inside before it opens a
// database, so a database built to make the check allocate without end
// fails the check instead of the machine.
const checkerEnv = "POCKETBACKUP_CHECK_DATABASES"

// checkerMemoryEnv carries the checker's memory budget in bytes.
const checkerMemoryEnv = "POCKETBACKUP_CHECK_MEMORY"

// checkerDeepEnv, when set, makes the checker run DeepCheck (a backup's
// deep verification) instead of Verify, and print its Report as JSON.
const checkerDeepEnv = "POCKETBACKUP_CHECK_DEEP"

// Exit statuses of a checker that ran its check: checkerVerdict when it
// found the databases broken (its standard output says why),
// checkerOutOfMemory when the check needed more memory than its budget.
const (
	checkerVerdict     = 3
	checkerOutOfMemory = 4
)

// Default bounds of the checker: it may use defaultCheckMemory bytes of
// memory, and minCheckTimeout plus the time to read the databases at
// minCheckRate bytes a second (far below what a quick_check reads even on
// slow disks).
const (
	defaultCheckMemory = 512 << 20
	minCheckTimeout    = time.Minute
	minCheckRate       = 8 << 20
)

// checkCacheKiB caps the checker's page cache, in KiB, at SQLite's own
// default. SQLite would otherwise take its size from the database's
// header, which the archive's author wrote; a larger cap only raises the
// checker's peak (bench/NOTES.md).
const checkCacheKiB = 2000

// checkerCalled records that the app's main calls CheckerChild (through
// host.RunChecker): without it, the child VerifyInChild starts would run
// the whole app instead of the check.
var checkerCalled atomic.Bool

// CheckerChild is the start of the checker process: when this process was
// started by VerifyInChild (checkerEnv is set) it runs the check and
// returns the exit status for main to pass to os.Exit, with isChecker
// true; otherwise it returns at once with isChecker false. The app's main
// must call it first (host.RunChecker).
func CheckerChild() (exitCode int, isChecker bool) {
	checkerCalled.Store(true)
	dir, ok := os.LookupEnv(checkerEnv)
	if !ok {
		return 0, false
	}
	budget, _ := strconv.ParseInt(os.Getenv(checkerMemoryEnv), 10, 64)
	if os.Getenv(checkerDeepEnv) != "" {
		return runDeepChecker(dir, budget), true
	}
	return runChecker(dir, budget), true
}

// ErrNoChecker reports an app whose main does not call host.RunChecker:
// its executable started again would run the app, not the check.
var ErrNoChecker = errors.New("database checker: the app's main does not call host.RunChecker")

// runChecker is the checker process: it caps its memory at budget bytes
// (none when budget <= 0), checks the databases in dir and returns the
// exit status.
func runChecker(dir string, budget int64) int {
	if budget > 0 {
		if err := limitMemory(budget); err != nil {
			fmt.Fprintf(os.Stderr, "limit memory: %v", err)
			return 1
		}
	}
	if err := Verify(context.Background(), dir); err != nil {
		fmt.Fprint(os.Stdout, err)
		if outOfMemory(err) {
			return checkerOutOfMemory
		}
		return checkerVerdict
	}
	return 0
}

// outOfMemory reports whether err is SQLite's SQLITE_NOMEM.
func outOfMemory(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_NOMEM
	}
	return strings.Contains(err.Error(), "out of memory")
}

// checkDSN opens path for the check, with its page cache capped.
func checkDSN(path string) string {
	return sqliteDSN(path) + "&_pragma=cache_size(-" + strconv.Itoa(checkCacheKiB) + ")"
}

// ErrCheckFailed marks a check that ran and found the databases broken (as
// against a checker that could not run or died).
var ErrCheckFailed = errors.New("database check failed")

// ErrCheckerLimit marks a checker stopped by its bounds: out of time or
// out of memory. The databases may be sound; they could not be checked.
var ErrCheckerLimit = errors.New("database checker exceeded its limits")

// errCheckTimeout is the cause of a checker's context when its time is up.
var errCheckTimeout = errors.New("database check timed out")

// Limits bound a checker process.
type Limits struct {
	Timeout time.Duration // killed after this long
	Memory  int64         // bytes it may allocate (see limitMemory)
}

// DefaultLimits are the bounds for checking dbBytes of databases.
func DefaultLimits(dbBytes int64) Limits {
	return Limits{
		Timeout: minCheckTimeout + time.Duration(dbBytes/minCheckRate)*time.Second,
		Memory:  defaultCheckMemory,
	}
}

// TopLevelBytes is the size of the regular files at the top of dir, where
// the databases are; 0 if it cannot be read.
func TopLevelBytes(dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// VerifyInChild checks the databases at the top of dir (see verifyDatabases)
// in a checker process bounded by lim and returns its PID. Broken databases
// give an error wrapping ErrCheckFailed; a checker that ran out of time or
// memory, one wrapping ErrCheckerLimit (it is killed when its time is up);
// a checker that dies otherwise, another error: either way the restore
// stops before the app is touched.
func VerifyInChild(ctx context.Context, dir string, lim Limits) (int, error) {
	_, pid, err := runChild(ctx, dir, lim, nil, 4<<10)
	return pid, err
}

// runChild runs a checker process on dir with env added, and returns what
// it printed on success (at most outMax bytes), its PID and the error
// VerifyInChild describes.
func runChild(ctx context.Context, dir string, lim Limits, env []string, outMax int) (string, int, error) {
	if !checkerCalled.Load() {
		return "", 0, ErrNoChecker
	}
	exe, err := selfExecutable()
	if err != nil {
		return "", 0, fmt.Errorf("database checker: %w", err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, lim.Timeout, errCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(append(os.Environ(), checkerEnv+"="+dir, checkerMemoryEnv+"="+strconv.FormatInt(lim.Memory, 10)), env...)
	cmd.Dir = dir
	out := &cappedBuffer{max: outMax}
	errOut := &cappedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.WaitDelay = 5 * time.Second
	dieWithParent(cmd)
	pid := 0
	if err = cmd.Start(); err == nil {
		pid = cmd.Process.Pid
		err = cmd.Wait()
	}
	if ctxErr := parent.Err(); ctxErr != nil {
		return "", pid, ctxErr
	}
	if errors.Is(context.Cause(ctx), errCheckTimeout) {
		return "", pid, fmt.Errorf("%w: no verdict within %s, killed (pid %d)", ErrCheckerLimit, lim.Timeout, pid)
	}
	if pid == 0 {
		return "", 0, fmt.Errorf("start database checker %s: %w", exe, err)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), pid, nil
	case errors.As(err, &exit) && exit.ExitCode() == checkerVerdict:
		return "", pid, fmt.Errorf("%w: %s", ErrCheckFailed, strings.TrimSpace(out.String()))
	case errors.As(err, &exit) && exit.ExitCode() == checkerOutOfMemory,
		strings.Contains(errOut.String(), "out of memory"): // the Go runtime's own
		return "", pid, fmt.Errorf("%w: out of its %d MiB of memory (pid %d): %s", ErrCheckerLimit, lim.Memory>>20, pid,
			strings.TrimSpace(out.String()+" "+firstLine(errOut.String())))
	default:
		return "", pid, fmt.Errorf("database checker (pid %d): %w: %s", pid, err, strings.TrimSpace(errOut.String()))
	}
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
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

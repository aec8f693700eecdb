package host_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cli"
)

// runCLI runs the backups command in this process against e's server.
func (e *env) runCLI(ctx context.Context, args ...string) (code int, out string) {
	vars := map[string]string{"PB_URL": e.server.URL, "PB_SUPERUSER_EMAIL": "admin@example.com", "PB_SUPERUSER_PASSWORD": "secret-password"}
	var buf bytes.Buffer
	no := false
	cmd := cli.NewBackupsCommand(cli.Options{Stdin: strings.NewReader(""), Stdout: &buf, Stderr: &buf,
		Getenv: func(k string) string { return vars[k] }, PollInterval: 20 * time.Millisecond, Terminal: &no})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		buf.WriteString("Error: " + err.Error())
	}
	return cli.ExitCode(err), buf.String()
}

// TestCLIBusyAndStopWaiting holds a create open: Ctrl-C (a cancelled
// context) stops the command's wait with status 130 and says the
// operation goes on; a second create meanwhile exits 3 with the API's
// message; the held create then finishes on its own.
func TestCLIBusyAndStopWaiting(t *testing.T) {
	e := newEnv(t)
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	host.SetBeforeArchive(e.host, func() {
		held <- struct{}{}
		<-hold
	})
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		code int
		out  string
	}
	waited := make(chan result, 1)
	go func() {
		code, out := e.runCLI(ctx, "create", "held.zip", "--wait")
		waited <- result{code, out}
	}()
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("the create never reached the archive")
	}
	code, out := e.runCLI(context.Background(), "create", "other.zip")
	if code != cli.ExitBusy || !strings.Contains(out, "Try again later") {
		t.Errorf("second create: exit %d, want %d: %s", code, cli.ExitBusy, out)
	}
	cancel()
	r := <-waited
	if r.code != cli.ExitInterrupted || !strings.Contains(r.out, "goes on in the app") {
		t.Errorf("create --wait after Ctrl-C: exit %d, want %d: %s", r.code, cli.ExitInterrupted, r.out)
	}
	close(hold)
	if last := e.waitIdle(); last["ok"] != true || last["key"] != "held.zip" {
		t.Fatalf("the held create after the command stopped waiting: %v", last)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The superuser the bench logs in with.
const (
	benchEmail    = "bench@example.com"
	benchPassword = "bench-password-1"
)

// testhost is a running "bin/testhost serve" driven over HTTP.
type testhost struct {
	cmd    *exec.Cmd
	url    string
	token  string
	client *http.Client
	log    *logWatch
	done   chan struct{} // closed when the process has exited
	err    error         // its Wait error, once done
}

// startTesthost starts bin/testhost serve on a free loopback port with the
// real plugin, its output copied to logPath, and waits until it answers.
func startTesthost(ctx context.Context, bin, dataDir, logPath string, echo io.Writer, keyFile string) (*testhost, error) {
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	// The superuser is created once, as an operator does, not through
	// PB_SUPERUSER_* at every start: testhost would then bcrypt the
	// password again at each start, the restore's re-exec included, and
	// the restore's downtime would measure testhost's bootstrap policy
	// rather than the backups (PocketBase does no such thing at start).
	if out, err := exec.CommandContext(ctx, bin+"/testhost", "superuser", "upsert", benchEmail, benchPassword, "--dir="+dataDir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testhost superuser upsert: %w: %s", err, out)
	}
	args := []string{"serve", "--http=" + addr, "--dir=" + dataDir, "--plugins=" + bin + "/plugins"}
	if keyFile != "" {
		args = append(args, "--encryption-key-file="+keyFile)
	}
	return launch(ctx, bin+"/testhost", args, addr, logPath, echo)
}

// launch starts exe with args serving on addr, its output copied to
// logPath (and echo), waits until it answers and logs in as the bench's
// superuser. PocketBase is driven the same way: the REST API is the same.
func launch(ctx context.Context, exe string, args []string, addr, logPath string, echo io.Writer) (*testhost, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, errors.Join(err, logFile.Close())
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(err, pr.Close(), pw.Close(), logFile.Close())
	}
	_ = pw.Close() // the child holds its copy
	h := &testhost{
		cmd: cmd,
		url: "http://" + addr,
		// No client timeout: a download of gigabytes takes as long as it takes.
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}},
		log:    newLogWatch(logFile, echo),
		done:   make(chan struct{}),
	}
	go h.log.run(pr)
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	if err := h.waitUp(ctx, 2*time.Minute); err != nil {
		return nil, errors.Join(err, h.stop())
	}
	if err := h.login(ctx); err != nil {
		return nil, errors.Join(err, h.stop())
	}
	return h, nil
}

func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// pid is the host's process id (it stays the same across a restore's re-exec).
func (h *testhost) pid() int { return h.cmd.Process.Pid }

// waitUp polls GET /api/health until it answers 200.
func (h *testhost) waitUp(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if status, err := h.call(ctx, "GET", "/api/health", nil, nil); err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-h.done:
			return fmt.Errorf("testhost exited: %v (log: %s)", h.err, h.log.path())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testhost did not answer within %v (log: %s)", timeout, h.log.path())
		}
	}
}

// login takes a superuser token.
func (h *testhost) login(ctx context.Context) error {
	h.token = ""
	var resp struct{ Token string }
	status, err := h.call(ctx, "POST", "/api/collections/_superusers/auth-with-password",
		map[string]string{"identity": benchEmail, "password": benchPassword}, &resp)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if status != http.StatusOK || resp.Token == "" {
		return fmt.Errorf("login: status %d", status)
	}
	h.token = resp.Token
	return nil
}

// call sends a JSON request (body may be nil) and decodes a JSON answer
// into out (may be nil).
func (h *testhost) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.url+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w in %.200s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, &statusError{method: method, path: path, status: resp.StatusCode, body: string(data)}
	}
	return resp.StatusCode, nil
}

// statusError is an answer the bench did not want.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %.300s", e.method, e.path, e.status, e.body)
}

// operation is an entry of /api/health's data.
type operation struct {
	Kind       string `json:"kind"`
	Key        string `json:"key"`
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	BytesDone  int64  `json:"bytesDone"`
	BytesTotal int64  `json:"bytesTotal"`
	Finished   string `json:"finished"`
}

type health struct {
	CanBackup     bool       `json:"canBackup"`
	Operation     *operation `json:"operation"`
	LastOperation *operation `json:"lastOperation"`
}

func (h *testhost) health(ctx context.Context) (health, error) {
	var resp struct{ Data health }
	_, err := h.call(ctx, "GET", "/api/health", nil, &resp)
	return resp.Data, err
}

// waitOutcome polls health until the last operation is kind on key and
// nothing runs; it returns that outcome.
func (h *testhost) waitOutcome(ctx context.Context, kind, key string, timeout time.Duration) (operation, error) {
	deadline := time.Now().Add(timeout)
	for {
		hl, err := h.health(ctx)
		if err == nil && hl.CanBackup && hl.LastOperation != nil && hl.LastOperation.Kind == kind && hl.LastOperation.Key == key {
			return *hl.LastOperation, nil
		}
		select {
		case <-h.done:
			return operation{}, fmt.Errorf("testhost exited: %v (log: %s)", h.err, h.log.path())
		case <-ctx.Done():
			return operation{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return operation{}, fmt.Errorf("%s %s did not finish within %v", kind, key, timeout)
		}
	}
}

// fileToken takes a file token for downloads.
func (h *testhost) fileToken(ctx context.Context) (string, error) {
	var resp struct{ Token string }
	if _, err := h.call(ctx, "POST", "/api/files/token", nil, &resp); err != nil {
		return "", err
	}
	return resp.Token, nil
}

// stop ends the process with SIGTERM (SIGKILL after 30 s).
func (h *testhost) stop() error {
	select {
	case <-h.done:
		return nil
	default:
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
		return errors.New("testhost ignored SIGTERM for 30 s; killed")
	}
	var exit *exec.ExitError
	if h.err != nil && !errors.As(h.err, &exit) {
		return h.err
	}
	return nil
}

// logWatch keeps the testhost's output lines (host and, forwarded by
// go-plugin, plugin) with the time each was read, and lets the bench
// wait for one.
type logWatch struct {
	file *os.File
	echo io.Writer

	mu     sync.Mutex
	lines  []logLine
	closed bool
	notify chan struct{} // closed and replaced at every new line
}

type logLine struct {
	at   time.Time
	text string
}

func newLogWatch(file *os.File, echo io.Writer) *logWatch {
	return &logWatch{file: file, echo: echo, notify: make(chan struct{})}
}

func (w *logWatch) path() string { return w.file.Name() }

func (w *logWatch) run(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := logLine{at: time.Now(), text: sc.Text()}
		fmt.Fprintln(w.file, line.text)
		if w.echo != nil {
			fmt.Fprintln(w.echo, line.text)
		}
		w.mu.Lock()
		w.lines = append(w.lines, line)
		close(w.notify)
		w.notify = make(chan struct{})
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.closed = true
	close(w.notify)
	w.mu.Unlock()
	_ = w.file.Close()
}

// mark is the index of the next line.
func (w *logWatch) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// find returns the first line from index from on that contains every one
// of subs.
func (w *logWatch) find(from int, subs ...string) (logLine, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines[min(from, len(w.lines)):] {
		if containsAll(l.text, subs) {
			return l, true
		}
	}
	return logLine{}, false
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

var logFieldPattern = regexp.MustCompile(`(?:^|\s)([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|\S+)`)

// logFields reads the key=value pairs of a log line in slog's text format.
func logFields(line string) map[string]string {
	out := map[string]string{}
	for _, m := range logFieldPattern.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		out[m[1]] = v
	}
	return out
}

// logFloat is field key of line as a number.
func logFloat(line, key string) (float64, bool) {
	v, ok := logFields(line)[key]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

package host_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// loadTally counts requests and errors by kind, safely from many clients.
type loadTally struct {
	mu       sync.Mutex
	requests map[string]int
	errors   map[string]int
	samples  map[string]string // one example per error kind
}

func (l *loadTally) ok(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests[kind]++
}

func (l *loadTally) fail(kind, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests[strings.SplitN(kind, " ", 2)[0]]++
	l.errors[kind]++
	if _, ok := l.samples[kind]; !ok {
		l.samples[kind] = detail
	}
}

func (l *loadTally) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := func(m map[string]int) string {
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(parts)
		return strings.Join(parts, " ")
	}
	return "requests: " + line(l.requests) + "; errors: " + line(l.errors)
}

// openFiles counts the entries of a /proc/<pid>/fd directory.
func openFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// settle closes idle client connections and waits until the goroutine and
// open-file counts are back within tolerance of the baseline (or 15 s).
func settle(t *testing.T, clients []*http.Client, baseG, baseFD, basePluginFD int, pluginFD string) (g, fd, pfd int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
		runtime.GC()
		g, fd, pfd = runtime.NumGoroutine(), openFiles(t, "/proc/self/fd"), openFiles(t, pluginFD)
		if (g <= baseG+loadSlackGoroutines && fd <= baseFD+loadSlackFDs && pfd <= basePluginFD+loadSlackFDs) || time.Now().After(deadline) {
			return g, fd, pfd
		}
	}
}

// Tolerances for the counts after the load: a timer or a pooled
// connection coming and going is not a leak; one per client would be.
const (
	loadSlackGoroutines = 4
	loadSlackFDs        = 3
)

// TestLoad runs clients that list and download while creates run back to
// back, over loopback, through the real plugin. Every answer must be a
// success or the contract's lock answer (400 busy) to a create; every
// accepted create must be listed at the end; goroutines and open files of
// the host (this process) and of the plugin return to where they started.
// `make loadtest` runs it with 50 clients for 60 s (LOADTEST_DURATION,
// LOADTEST_CLIENTS); go test runs a short version.
func TestLoad(t *testing.T) {
	duration, clients := 3*time.Second, 10
	if v := os.Getenv("LOADTEST_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOADTEST_DURATION: %v", err)
		}
		duration, clients = d, 50
	}
	if v := os.Getenv("LOADTEST_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LOADTEST_CLIENTS=%q", v)
		}
		clients = n
	}
	// Warnings and errors only: thousands of creates log three lines each.
	e := newEnvWith(t, func(cfg *host.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	e.createAndWait("seed.zip")
	transport := &http.Transport{MaxIdleConnsPerHost: clients + 4}
	client := &http.Client{Transport: transport}
	allClients := []*http.Client{client, http.DefaultClient}
	pluginPID := e.host.PluginPID()
	pluginFD := fmt.Sprintf("/proc/%d/fd", pluginPID)

	// Baseline once everything the load touches has run once.
	_ = e.download("seed.zip")
	e.keys()
	baseG, baseFD, basePluginFD := settle(t, allClients, 1<<30, 1<<30, 1<<30, pluginFD)

	tally := &loadTally{requests: map[string]int{}, errors: map[string]int{}, samples: map[string]string{}}
	var accepted atomic.Int64
	var keysMu sync.RWMutex
	keys := []string{"seed.zip"}
	deadline := time.Now().Add(duration)
	get := func(url string, auth bool) (*http.Response, error) {
		req, err := http.NewRequest("GET", e.server.URL+url, nil)
		if err != nil {
			return nil, err
		}
		if auth {
			req.Header.Set("Authorization", e.superTok)
		}
		return client.Do(req)
	}
	list := func() {
		resp, err := get("/api/backups", true)
		if err != nil {
			tally.fail("list transport", err.Error())
			return
		}
		defer resp.Body.Close()
		var got []struct{ Key string }
		if resp.StatusCode != 200 {
			body, _ := io.ReadAll(resp.Body)
			tally.fail(fmt.Sprintf("list status-%d", resp.StatusCode), string(body))
			return
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			tally.fail("list decode", err.Error())
			return
		}
		tally.ok("list")
		keysMu.Lock()
		defer keysMu.Unlock()
		keys = keys[:0]
		for _, b := range got {
			keys = append(keys, b.Key)
		}
	}
	download := func(r *rand.Rand) {
		keysMu.RLock()
		key := keys[r.IntN(len(keys))]
		keysMu.RUnlock()
		resp, err := get("/api/backups/"+key+"?token="+e.superFile, false)
		if err != nil {
			tally.fail("download transport", err.Error())
			return
		}
		defer resp.Body.Close()
		head := make([]byte, 2)
		_, _ = io.ReadFull(resp.Body, head)
		n, err := io.Copy(io.Discard, resp.Body)
		switch {
		case resp.StatusCode != 200:
			tally.fail(fmt.Sprintf("download status-%d", resp.StatusCode), key)
		case err != nil || n+2 != resp.ContentLength || string(head) != "PK":
			tally.fail("download body", fmt.Sprintf("%s: %d+2 of %d bytes, %q, %v", key, n, resp.ContentLength, head, err))
		default:
			tally.ok("download")
		}
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 42))
			for time.Now().Before(deadline) {
				if r.IntN(2) == 0 {
					list()
				} else {
					download(r)
				}
			}
		})
	}
	// Two creators, back to back: one mostly gets the lock, the other
	// mostly the busy answer.
	var seq atomic.Int64
	for range 2 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				name := fmt.Sprintf("load_%06d.zip", seq.Add(1))
				req, _ := http.NewRequest("POST", e.server.URL+"/api/backups", strings.NewReader(`{"name":"`+name+`"}`))
				req.Header.Set("Authorization", e.superTok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					tally.fail("create transport", err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 204:
					accepted.Add(1)
					tally.ok("create")
				case resp.StatusCode == 400 && strings.Contains(string(body), msgBusyFragment):
					tally.ok("create-busy")
					time.Sleep(time.Millisecond)
				default:
					tally.fail(fmt.Sprintf("create status-%d", resp.StatusCode), string(body))
				}
			}
		})
	}
	wg.Wait()
	last := e.waitIdle()

	// Every accepted create finished and is listed: nothing lost.
	listed := e.keys()
	if int64(len(listed)) != accepted.Load()+1 {
		t.Errorf("%d accepted creates are not listed (%d listed, want the seed plus %d); see the host's errors above; last outcome %v",
			accepted.Load()+1-int64(len(listed)), len(listed), accepted.Load(), last)
	}
	if left := storeLeftovers(t, e.dataDir, listed...); len(left) != 0 {
		t.Errorf("store leftovers: %v", left)
	}
	if pid := e.host.PluginPID(); pid != pluginPID {
		t.Errorf("plugin pid %d after the load, was %d: it died", pid, pluginPID)
	}
	g, fd, pfd := settle(t, allClients, baseG, baseFD, basePluginFD, pluginFD)
	t.Logf("load: %d clients for %v, %s", clients, duration, tally)
	t.Logf("accepted creates %d, listed %d; goroutines %d -> %d, host fds %d -> %d, plugin fds %d -> %d",
		accepted.Load(), len(listed), baseG, g, baseFD, fd, basePluginFD, pfd)
	for kind, sample := range tally.samples {
		t.Errorf("unexpected %s (%d), e.g. %.300s", kind, tally.errors[kind], sample)
	}
	if g > baseG+loadSlackGoroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d after the load, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if fd > baseFD+loadSlackFDs {
		t.Errorf("host open files %d after the load, %d before", fd, baseFD)
	}
	if pfd > basePluginFD+loadSlackFDs {
		t.Errorf("plugin open files %d after the load, %d before", pfd, basePluginFD)
	}
}

// msgBusyFragment identifies the contract's lock answer.
const msgBusyFragment = "another backup/restore process has already been started"

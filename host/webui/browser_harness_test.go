package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

// The browser tests drive the page in Debian's headless chromium against a
// real testhost with the real plugin, both built from this tree.

const (
	adminEmail    = "webui-admin@example.com"
	adminPassword = "webui-password-1"
	axePath       = "testdata/axe/node_modules/axe-core/axe.min.js"
	shotsDir      = "testdata/screenshots"
	browserZone   = "America/New_York"
)

// requireBrowser returns chromium's path and axe-core's source, or skips
// (with the reason) when they are missing; under make test
// (PB_REQUIRE_BROWSER=1) a missing one fails instead.
func requireBrowser(t *testing.T) (chromium, axe string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("PB_REQUIRE_BROWSER") != "" {
			t.Fatalf("%s missing (make tools / make axe install it)", what)
		}
		t.Skipf("%s missing: run make tools axe (make test does)", what)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		missing("chromium")
	}
	src, err := os.ReadFile(axePath)
	if err != nil {
		missing("axe-core (" + axePath + ")")
	}
	return path, string(src)
}

// goBuild builds pkg (relative to the repository root) into out.
func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
}

// app is a running testhost.
type app struct {
	t       *testing.T
	url     string
	dataDir string
	log     *lockedBuffer
	token   string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startApp builds testhost and the plugin and serves a fresh data dir,
// with encryption at rest on (the page shows which backups are encrypted;
// downloads, uploads and restores are of plain zips either way).
func startApp(t *testing.T) *app {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "testhost")
	plugins := filepath.Join(dir, "plugins")
	goBuild(t, bin, "./testhost")
	goBuild(t, filepath.Join(plugins, "pocketbackup-plugin"), "./plugin/cmd/pocketbackup-plugin")
	sum := exec.Command("sh", "-c", "sha256sum pocketbackup-plugin > pocketbackup-plugin.sha256")
	sum.Dir = plugins
	if out, err := sum.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a := &app{t: t, url: "http://" + addr, dataDir: filepath.Join(dir, "pb_data"), log: &lockedBuffer{}}
	cmd := exec.Command(bin, "serve", "--http="+addr, "--dir="+a.dataDir, "--plugins="+plugins)
	keys, err := atrest.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "PB_SUPERUSER_EMAIL="+adminEmail, "PB_SUPERUSER_PASSWORD="+adminPassword,
		"PB_BACKUPS_ENCRYPTION_KEY="+string(keys))
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("testhost log:\n%s", a.log.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(a.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("testhost did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.login()
	return a
}

// login signs the test's API client in (again, after a restart).
func (a *app) login() {
	a.t.Helper()
	a.token = ""
	var auth struct{ Token string }
	if st := a.call("POST", "/api/collections/_superusers/auth-with-password", map[string]string{"identity": adminEmail, "password": adminPassword}, &auth); st != 200 {
		a.t.Fatalf("login: %d", st)
	}
	a.token = auth.Token
}

// call sends an API request as the superuser; out receives the JSON.
func (a *app) call(method, path string, body, out any) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, a.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// download returns a backup's bytes through the API.
func (a *app) download(key string) []byte {
	a.t.Helper()
	var ft struct{ Token string }
	a.call("POST", "/api/files/token", nil, &ft)
	resp, err := http.Get(a.url + "/api/backups/" + key + "?token=" + ft.Token)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		a.t.Fatalf("download %s: %d %v", key, resp.StatusCode, err)
	}
	return data
}

// browser is one headless chromium tab on the page.
type browser struct {
	t   *testing.T
	ctx context.Context
	axe string

	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, chromium, axe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("lang", "en-US"),
		// A zone other than UTC, so the page's two times differ.
		chromedp.Env("TZ="+browserZone))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, axe: axe}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// Network entries are the browser's note of an HTTP error
			// answer or a refused connection: the flows cause those on
			// purpose (a wrong password, the restart of a restore).
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// noConsoleErrors fails the test on any console error so far.
func (b *browser) noConsoleErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Fatalf("browser console errors:\n%s", strings.Join(b.errors, "\n"))
	}
}

// do runs actions, within d.
func (b *browser) do(d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JS expression (awaiting a promise) into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// wait polls the JS expression until it is truthy; what says what for.
func (b *browser) wait(what, expr string, d time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		b.t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, text)
	}
}

// text is the text of the first element matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||''`, sel))
}

// axeCheck runs axe-core on the page and fails on serious or critical
// violations.
func (b *browser) axeCheck(screen string) {
	b.t.Helper()
	if !eval[bool](b, `typeof window.axe === 'object'`) {
		eval[any](b, b.axe+";0")
	}
	found := eval[[]string](b, `axe.run(document).then(r => r.violations
		.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')))`)
	if len(found) > 0 {
		b.t.Errorf("axe-core on %s:\n%s", screen, strings.Join(found, "\n"))
	}
}

// screen checks the screen as it is (axe-core at both sizes, no console
// errors, no sideways scrolling on a phone) and saves it at 1280×800 and
// 390×844; with show, the element it selects is scrolled into view for
// the pictures.
func (b *browser) screen(name string, show ...string) {
	b.t.Helper()
	if err := os.MkdirAll(shotsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, vp := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
		b.do(10*time.Second, chromedp.EmulateViewport(vp.w, vp.h))
		b.axeCheck(fmt.Sprintf("%s at %d px", name, vp.w))
		if vp.w == 390 {
			if wide := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); wide {
				b.t.Errorf("%s scrolls sideways at 390 px", name)
			}
		}
		for _, sel := range show {
			eval[bool](b, fmt.Sprintf(`(document.querySelector(%q).scrollIntoView({block: 'center'}), true)`, sel))
		}
		shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			b.t.Fatal(err)
		}
		file := filepath.Join(shotsDir, fmt.Sprintf("%s-%dx%d.png", name, vp.w, vp.h))
		if err := os.WriteFile(file, shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(10*time.Second, chromedp.EmulateViewport(1280, 800))
	b.noConsoleErrors()
}

// clickRow clicks the button labelled label in the row of backup key.
func (b *browser) clickRow(key, label string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => {
		const li = [...document.querySelectorAll('.backup')].find(li => li.querySelector('.name').textContent === %q);
		const btn = li && [...li.querySelectorAll('button')].find(b => b.textContent === %q);
		if (!btn) return false;
		btn.focus(); btn.click(); return true; })()`, key, label))
	if !ok {
		b.t.Fatalf("no %q button for %q", label, key)
	}
}

// listed is a JS expression: whether backup key is in the list.
func listed(key string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('.backup .name')].some(e => e.textContent === %q)`, key)
}

// setValue sets a form field's value as typing would end, with an input
// event (SendKeys types; this clears or fills in one step).
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
			e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel, v))(ctx, t)
		return err
	})
}

// rowJS is a JS expression: expr evaluated with li the row of backup key
// (false when there is none).
func rowJS(key, expr string) string {
	return fmt.Sprintf(`(() => { const li = [...document.querySelectorAll('.backup')].find(li => li.querySelector('.name').textContent === %q);
		return li ? %s : false; })()`, key, expr)
}

// rowText is a JS expression: whether the row of backup key shows text.
func rowText(key, text string) string {
	return rowJS(key, fmt.Sprintf(`li.textContent.includes(%q)`, text))
}

// markRow marks the row of backup key and returns a selector of it.
func (b *browser) markRow(key string) string {
	b.t.Helper()
	eval[bool](b, rowJS(key, `(document.querySelectorAll('[data-test-row]').forEach(e => e.removeAttribute('data-test-row')), li.setAttribute('data-test-row', ''), true)`))
	return "[data-test-row]"
}

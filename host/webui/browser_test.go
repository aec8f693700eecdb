package webui_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestBrowserFlows walks the page as a person does, in one tab, screen by
// screen: each step fails on a browser console error, runs axe-core and
// saves screenshots (testdata/screenshots).
func TestBrowserFlows(t *testing.T) {
	chromium, axe := requireBrowser(t)
	a := startApp(t)
	b := newBrowser(t, chromium, axe)
	page := a.url + "/_/"
	start := time.Now()
	// Each step builds on the ones before: the first failure ends the walk.
	run := func(name string, f func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t, a.t = t, t; f(t) }) {
			t.FailNow()
		}
	}
	defer func() { t.Logf("browser flows took %s", time.Since(start).Round(time.Millisecond)) }()

	run("sign in", func(t *testing.T) {

		b.do(30*time.Second, chromedp.Navigate(page))
		b.wait("the sign-in form", `document.querySelector('#login-email')`, 20*time.Second)
		b.screen("signin")
		b.do(10*time.Second,
			chromedp.SendKeys(chromedp.CSS("#login-email"), adminEmail),
			chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong-password"),
			chromedp.Click(chromedp.CSS("#login-submit")))
		b.wait("the API's refusal", `document.querySelector('#login-error').textContent === 'Failed to authenticate.'`, 10*time.Second)
		b.do(10*time.Second,
			setValue("#login-password", ""),
			chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
			chromedp.Click(chromedp.CSS("#login-submit")))
		b.wait("the empty list", `document.querySelector('#list-empty')`, 20*time.Second)
		if got := b.text("#who-email"); got != adminEmail {
			t.Errorf("signed in as %q", got)
		}
		if strings.Contains(eval[string](b, `location.href`), "token") {
			t.Error("token in the URL")
		}
		b.screen("backups-empty")
	})

	run("create and watch the bar reach the end", func(t *testing.T) {

		b.do(10*time.Second, chromedp.SendKeys(chromedp.CSS("#backup-name"), "Bad Name"))
		b.wait("the name rule's complaint", `document.querySelector('#backup-name-error').textContent.includes('must use only')`, 5*time.Second)
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("#create-backup")))
		var n []any
		a.call("GET", "/api/backups", nil, &n)
		if len(n) != 0 {
			t.Fatalf("a name against the rule was sent: %v", n)
		}
		b.do(10*time.Second, setValue("#backup-name", ""),
			chromedp.SendKeys(chromedp.CSS("#backup-name"), "first.zip"))
		// Two clicks at once: the page refuses the second itself.
		// What the page says right after the second click, before the
		// first one's answer replaces it.
		msg := eval[string](b, `(() => { const c = document.querySelector('#create-backup'); c.click(); c.click();
			return document.querySelector('#backups-message').textContent; })()`)
		if !strings.Contains(msg, "Another backup or restore is running") {
			t.Errorf("second click not refused by the page: %q", msg)
		}
		b.wait("the bar at its end", `(() => { const p = document.querySelector('#op-progress');
			return p && p.max > 0 && p.value === p.max && document.querySelector('.progress-label').textContent.includes('Backup created'); })()`, 60*time.Second)
		b.wait("first.zip listed", listed("first.zip"), 20*time.Second)
		b.wait("first.zip shown encrypted", rowJS("first.zip", `(li.querySelector('.badge.enc')||{}).textContent === 'Encrypted'`), 20*time.Second)
		b.wait("the outcome banner", `(document.querySelector('#outcome')||{}).textContent?.includes('Backup created: first.zip')`, 10*time.Second)
		if strings.Contains(eval[string](b, `document.body.textContent`), "Try again later") {
			t.Error("the second click reached the server")
		}
		b.screen("backups-created")
	})

	run("keyboard-only create", func(t *testing.T) {

		eval[bool](b, `(document.activeElement && document.activeElement.blur(), true)`)
		found := false
		for range 40 {
			b.do(5*time.Second, chromedp.KeyEvent(kb.Tab))
			if eval[string](b, `document.activeElement.id`) == "backup-name" {
				found = true
				break
			}
		}
		if !found {
			t.Fatal("Tab never reached the name field")
		}
		b.do(10*time.Second, chromedp.KeyEvent("keyboard.zip"), chromedp.KeyEvent(kb.Enter))
		b.wait("keyboard.zip listed", listed("keyboard.zip"), 60*time.Second)
		b.wait("the operation over", `!document.querySelector('#create-backup[aria-disabled="true"]')`, 30*time.Second)
		b.noConsoleErrors()
	})

	// A name full of markup, within what the key rule allows (Chrome
	// itself escapes a double quote in an upload's file name).
	hostile := `<img src=x onerror=window.pwned=1>&'q.zip`
	run("upload and see it listed as text", func(t *testing.T) {

		file := filepath.Join(t.TempDir(), hostile)
		if err := os.WriteFile(file, a.download("first.zip"), 0o600); err != nil {
			t.Fatal(err)
		}
		b.do(10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{file}),
			chromedp.Click(chromedp.CSS("#upload-backup")))
		b.wait("the upload listed", listed(hostile), 60*time.Second)
		b.screen("backups-uploaded")
		// The same file again: the API's message names it, as text.
		b.do(10*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{file}),
			chromedp.Click(chromedp.CSS("#upload-backup")))
		b.wait("the API's refusal", `document.querySelector('#backups-message').textContent.includes('already exists')`, 30*time.Second)
		if eval[bool](b, `document.querySelectorAll('img').length > 0 || window.pwned === 1`) {
			t.Fatal("a backup name was rendered as markup")
		}
		b.noConsoleErrors()
	})

	run("download and compare bytes", func(t *testing.T) {

		dir := t.TempDir()
		b.do(10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
			})
			return err
		}))
		want := a.download("first.zip")
		b.clickRow("first.zip", "Download")
		got := waitFile(t, filepath.Join(dir, "first.zip"), len(want))
		if !bytes.Equal(got, want) {
			t.Fatalf("downloaded %d bytes differ from the API's %d", len(got), len(want))
		}
		b.noConsoleErrors()
	})

	run("delete with confirmation, by keyboard", func(t *testing.T) {

		b.clickRow("keyboard.zip", "Delete")
		b.wait("the dialog", `document.querySelector('dialog[open]')`, 10*time.Second)
		if !eval[bool](b, `document.querySelector('dialog[open]').contains(document.activeElement)`) {
			t.Error("focus did not move into the dialog")
		}
		b.screen("delete-dialog")
		b.do(5*time.Second, chromedp.KeyEvent(kb.Escape))
		b.wait("the dialog closed", `!document.querySelector('dialog')`, 5*time.Second)
		if got := eval[string](b, `document.activeElement.textContent`); got != "Delete" {
			t.Errorf("focus went back to %q, not the Delete button", got)
		}
		b.do(5*time.Second, chromedp.KeyEvent(kb.Enter))
		b.wait("the dialog again", `document.querySelector('dialog[open]')`, 10*time.Second)
		b.do(5*time.Second, chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
		b.wait("keyboard.zip gone", "!"+listed("keyboard.zip"), 20*time.Second)
		if st := a.call("DELETE", "/api/backups/keyboard.zip", nil, nil); st != 404 {
			t.Errorf("keyboard.zip still in the store: %d", st)
		}
		b.noConsoleErrors()
	})

	run("restore with the typed name and come back", func(t *testing.T) {

		b.clickRow("first.zip", "Restore")
		b.wait("the dialog", `document.querySelector('dialog[open] input')`, 10*time.Second)
		if !eval[bool](b, `document.querySelector('dialog[open] button.danger').disabled`) {
			t.Fatal("restore allowed before the name is typed")
		}
		b.do(10*time.Second, chromedp.SendKeys(chromedp.CSS("dialog[open] input[type=text]"), "first.zi"))
		if !eval[bool](b, `document.querySelector('dialog[open] button.danger').disabled`) {
			t.Fatal("restore allowed with a wrong name")
		}
		b.do(10*time.Second, chromedp.SendKeys(chromedp.CSS("dialog[open] input[type=text]"), "p"))
		// The pre-restore backup: off by default (the setting is unset).
		if eval[bool](b, `document.querySelector('dialog[open] input[type=checkbox]').checked`) {
			t.Error("pre-restore backup ticked without the setting")
		}
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("dialog[open] input[type=checkbox]")))
		b.screen("restore-dialog")
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
		// The restarted app renews its superuser (testhost does with
		// PB_SUPERUSER_PASSWORD set), so the page asks to sign in again.
		b.wait("the sign-in after the restart", `(document.querySelector('#login-message')||{}).textContent?.includes('restarted with the restored data')`, 90*time.Second)
		b.screen("restore-signin")
		if got := eval[string](b, `document.querySelector('#login-email').value`); got != adminEmail {
			t.Errorf("e-mail not filled in again: %q", got)
		}
		b.do(10*time.Second, chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword), chromedp.Click(chromedp.CSS("#login-submit")))
		b.wait("the restore's outcome after the restart", `(document.querySelector('#outcome')||{}).textContent?.includes('Backup restored: first.zip')`, 90*time.Second)
		banner := b.text("#outcome")
		if !strings.Contains(banner, "The API was down for ") {
			t.Errorf("banner does not tell the down time: %q", banner)
		}
		t.Logf("banner: %s", banner)
		b.wait("the list back", listed("first.zip"), 20*time.Second)
		a.login()
		b.wait("the pre-restore backup listed", `[...document.querySelectorAll('.backup .name')].some(e => e.textContent.startsWith('@pre_restore_'))`, 20*time.Second)
		b.screen("restored")
	})

	verify := func(key, mode string) {
		b.clickRow(key, "Verify")
		b.wait("the verify dialog", `document.querySelector('dialog[open] input[type=radio]')`, 10*time.Second)
		if !eval[bool](b, `document.querySelector('dialog[open] input[value="quick"]').checked`) {
			b.t.Error("quick is not the default")
		}
		if mode == "deep" {
			b.do(10*time.Second, chromedp.Click(chromedp.CSS(`dialog[open] input[value="deep"]`)))
			b.screen("verify-dialog")
		}
		b.do(10*time.Second, chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	}
	run("verify quick and deep and see ok", func(t *testing.T) {
		verify("first.zip", "quick")
		b.wait("the quick verify's outcome", `(document.querySelector('#outcome')||{}).textContent?.includes('Backup verified: first.zip. Quick check: ')`, 60*time.Second)
		b.wait("ok in the list", rowText("first.zip", "Verified: ok"), 20*time.Second)
		if !strings.Contains(b.text("#outcome"), "SHA-256 ") {
			t.Errorf("the outcome does not show the digest read: %q", b.text("#outcome"))
		}
		// The digest: short in the row, whole in its details.
		var list []struct{ Key, SHA256 string }
		a.call("GET", "/api/backups", nil, &list)
		var sum string
		for _, it := range list {
			if it.Key == "first.zip" {
				sum = it.SHA256
			}
		}
		if len(sum) != 64 {
			t.Fatalf("first.zip has no digest in the list: %+v", list)
		}
		if got := eval[string](b, rowJS("first.zip", `li.querySelector('.digest summary').textContent`)); got != "SHA-256 "+sum[:12]+"…" {
			t.Errorf("short digest %q, want the first 12 of %s", got, sum)
		}
		if got := eval[string](b, rowJS("first.zip", `li.querySelector('.digest-full').textContent`)); got != sum {
			t.Errorf("full digest %q, want %s", got, sum)
		}
		eval[bool](b, rowJS("first.zip", `(li.querySelector('.digest').open = true, true)`))
		verify("first.zip", "deep")
		b.wait("the deep verify's outcome", `(document.querySelector('#outcome')||{}).textContent?.includes('Backup verified: first.zip. Deep check: ')`, 60*time.Second)
		if out := b.text("#outcome"); !strings.Contains(out, "databases intact: ") || !strings.Contains(out, "data.db") {
			t.Errorf("the deep outcome does not name the databases checked: %q", out)
		}
		b.wait("the list reloaded", rowText("first.zip", "Verified: ok"), 20*time.Second)
		b.screen("verified", b.markRow("first.zip"))
	})

	run("a damaged backup's verification names the problem", func(t *testing.T) {
		// One byte changed in storage, behind the app's back.
		path := filepath.Join(a.dataDir, "backups", hostile)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/3] ^= 0xff
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		verify(hostile, "quick")
		b.wait("the failure banner", `(document.querySelector('#outcome.error')||{}).textContent?.includes('Verification failed: ')`, 60*time.Second)
		out := b.text("#outcome")
		if !strings.Contains(out, "Backup verification failed: ") || !strings.Contains(out, "SHA-256") {
			t.Errorf("the banner does not name the problem: %q", out)
		}
		b.wait("the problem in the list", rowText(hostile, "Verification failed: "), 20*time.Second)
		t.Logf("banner: %s", out)
		b.screen("verify-failed")
	})

	run("pin, see delete refused with the API's message, unpin", func(t *testing.T) {
		b.clickRow("first.zip", "Pin")
		b.wait("the pin shown", rowJS("first.zip", `li.querySelector('.badge.pin') && [...li.querySelectorAll('button')].some(b => b.textContent === 'Unpin')`), 20*time.Second)
		var list []struct {
			Key    string
			Pinned bool
		}
		a.call("GET", "/api/backups", nil, &list)
		for _, it := range list {
			if it.Pinned != (it.Key == "first.zip") {
				t.Errorf("pinned in the API: %+v", list)
			}
		}
		b.screen("pinned", b.markRow("first.zip"))
		b.clickRow("first.zip", "Delete")
		b.wait("the dialog", `document.querySelector('dialog[open] button.danger')`, 10*time.Second)
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
		b.wait("the API's refusal", `(document.querySelector('#backups-message .error')||{}).textContent === 'The backup is pinned and cannot be deleted; unpin it first.'`, 20*time.Second)
		if !eval[bool](b, listed("first.zip")) {
			t.Error("first.zip left the list")
		}
		b.screen("pinned-delete-refused", "#backups-message")
		b.clickRow("first.zip", "Unpin")
		b.wait("the pin gone", rowJS("first.zip", `!li.querySelector('.badge.pin') && [...li.querySelectorAll('button')].some(b => b.textContent === 'Pin')`), 20*time.Second)
		var after []struct {
			Key    string
			Pinned bool
		}
		a.call("GET", "/api/backups", nil, &after)
		for _, it := range after {
			if it.Pinned {
				t.Errorf("still pinned: %+v", it)
			}
		}
		b.noConsoleErrors()
	})

	run("save schedule and see the next run", func(t *testing.T) {

		b.do(10*time.Second, chromedp.Click(chromedp.CSS("#nav-settings")))
		b.wait("the settings", `document.querySelector('#sched-form[aria-busy="false"]')`, 20*time.Second)
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("#sched-enabled")),
			setValue("#sched-cron", ""), chromedp.SendKeys(chromedp.CSS("#sched-cron"), "61 * * * *"),
			chromedp.Click(chromedp.CSS("#sched-save")))
		b.wait("the API's field error", `document.querySelector('#sched-cron-error').textContent.startsWith('Invalid cron expression')`, 10*time.Second)
		b.do(10*time.Second, chromedp.Click(chromedp.CSS(`button[data-cron="0 0 * * 0"]`)),
			setValue("#sched-keep", "5"),
			chromedp.Click(chromedp.CSS("#sched-save")))
		b.wait("the next run", `document.querySelector('#next-run').textContent.startsWith('Next run: ')`, 10*time.Second)
		next := b.text("#next-run")
		if !strings.Contains(next, " 00:00 UTC") || !strings.Contains(next, "07:00 PM in "+browserZone) {
			t.Errorf("next run %q lacks UTC or the browser's zone", next)
		}
		var s struct {
			Backups struct {
				Cron        string
				CronMaxKeep int
			}
		}
		a.call("GET", "/api/settings", nil, &s)
		if s.Backups.Cron != "0 0 * * 0" || s.Backups.CronMaxKeep != 5 {
			t.Errorf("saved %+v", s.Backups)
		}
		b.screen("settings")
	})

	run("retention preview shows what would be deleted", func(t *testing.T) {
		// Three scheduled backups, a day apart, as the schedule names them.
		first := a.download("first.zip")
		day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		var auto []string
		for i := range 3 {
			at := day.AddDate(0, 0, i)
			key := "@auto_pb_backup_" + at.Format("20060102150405") + ".zip"
			path := filepath.Join(a.dataDir, "backups", key)
			if err := os.WriteFile(path, first, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, at, at); err != nil {
				t.Fatal(err)
			}
			auto = append(auto, key)
		}
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("#nav-backups")), chromedp.Click(chromedp.CSS("#nav-settings")))
		b.wait("the preview under cronMaxKeep", `(document.querySelector('#retention-summary')||{}).textContent?.includes('keeping the newest 5: 0 deleted, 3 kept')`, 20*time.Second)
		b.do(10*time.Second, setValue("#ret-keepLast", "1"))
		b.wait("the two older ones to be deleted", `[...document.querySelectorAll('#retention-delete .name')].map(e => e.textContent).join(' ') === `+
			"`"+auto[1]+" "+auto[0]+"`", 20*time.Second)
		b.screen("settings-retention", "#retention-preview")
		b.do(10*time.Second, setValue("#ret-keepLast", "-1"))
		b.wait("the API's refusal of -1", `(document.querySelector('#retention-error')||{}).textContent?.includes('keepLast')`, 20*time.Second)
		b.do(10*time.Second, setValue("#ret-keepLast", "0"), setValue("#ret-keepDaily", "2"), chromedp.Click(chromedp.CSS("#sched-save")))
		b.wait("saved", `document.querySelector('#sched-message').textContent === 'Schedule saved.'`, 10*time.Second)
		b.wait("the saved rule's preview", `(document.querySelector('#retention-summary')||{}).textContent?.includes('with these retention rules: 1 deleted, 2 kept')`, 20*time.Second)
		var s struct {
			Backups struct{ Retention map[string]int }
		}
		a.call("GET", "/api/settings", nil, &s)
		if s.Backups.Retention["keepDaily"] != 2 || s.Backups.Retention["keepLast"] != 0 {
			t.Errorf("saved retention %v", s.Backups.Retention)
		}
		b.noConsoleErrors()
	})

	run("S3 test against an S3-protocol server", func(t *testing.T) {

		backend := s3mem.New()
		if err := backend.CreateBucket("webui-bucket"); err != nil {
			t.Fatal(err)
		}
		s3 := httptest.NewServer(gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server())
		defer s3.Close()
		fill := func(sel, v string) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				return chromedp.Do(ctx, setValue(sel, ""), chromedp.SendKeys(chromedp.CSS(sel), v))
			})
		}
		b.do(20*time.Second, fill("#s3-endpoint", s3.URL), fill("#s3-bucket", "webui-bucket"), fill("#s3-region", "us-east-1"),
			fill("#s3-access-key", "AKWEBUI"), fill("#s3-secret", "secret-webui"), chromedp.Click(chromedp.CSS("#s3-path-style")),
			chromedp.Click(chromedp.CSS("#s3-test")))
		b.wait("the test's success", `document.querySelector('#s3-test-ok')`, 60*time.Second)
		b.screen("settings-s3-ok")
		b.do(10*time.Second, fill("#s3-bucket", "missing-bucket"), chromedp.Click(chromedp.CSS("#s3-test")))
		b.wait("the API's message", `(document.querySelector('#s3-test-error')||{}).textContent?.startsWith('Failed to use the S3 storage')`, 60*time.Second)
		b.do(10*time.Second, fill("#s3-bucket", "webui-bucket"), chromedp.Click(chromedp.CSS("#s3-save")))
		b.wait("saved", `document.querySelector('#s3-message').textContent.includes('saved')`, 10*time.Second)
		if v := eval[string](b, `document.querySelector('#s3-secret').value`); v != "" {
			t.Errorf("the secret is shown back: %q", v)
		}
		if strings.Contains(eval[string](b, `document.body.innerHTML`), "secret-webui") {
			t.Error("the secret is in the page")
		}
		b.screen("settings-s3-saved")
	})

	run("a long create shows bytes done of total and the rate", func(t *testing.T) {
		// A create into S3 behind a link of slowLinkRate, with
		// incompressible ballast in the data directory, lasts seconds:
		// long enough to watch its bytes and rate.
		backend := s3mem.New()
		if err := backend.CreateBucket("slow-bucket"); err != nil {
			t.Fatal(err)
		}
		slow := httptest.NewServer(throttled(gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server(), slowLinkRate))
		defer slow.Close()
		dir := filepath.Join(a.dataDir, "storage")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeRandom(t, filepath.Join(dir, "ballast.bin"), ballastSize)
		defer os.Remove(filepath.Join(dir, "ballast.bin"))
		fill := func(sel, v string) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				return chromedp.Do(ctx, setValue(sel, ""), chromedp.SendKeys(chromedp.CSS(sel), v))
			})
		}
		b.do(20*time.Second, fill("#s3-endpoint", slow.URL), fill("#s3-bucket", "slow-bucket"),
			chromedp.Click(chromedp.CSS("#s3-enabled")), chromedp.Click(chromedp.CSS("#s3-save")))
		b.wait("saved", `document.querySelector('#s3-message').textContent.includes('saved')`, 10*time.Second)
		b.do(10*time.Second, chromedp.Click(chromedp.CSS("#nav-backups")))
		b.wait("the bucket's empty list", `document.querySelector('#list-empty')`, 20*time.Second)
		b.do(10*time.Second, chromedp.SendKeys(chromedp.CSS("#backup-name"), "big.zip"), chromedp.Click(chromedp.CSS("#create-backup")))
		b.wait("bytes, percent and rate", `/^Creating backup big\.zip: .+ of .+ \(\d+%\), .+\/s$/.test((document.querySelector('.progress-label')||{}).textContent||'')`, 60*time.Second)
		label := b.text(".progress-label")
		t.Logf("progress: %s", label)
		b.screen("progress")
		b.wait("the bar at its end", `(document.querySelector('.progress-label')||{}).textContent === 'Backup created: big.zip'`, 120*time.Second)
		b.wait("big.zip listed", listed("big.zip"), 20*time.Second)
	})

	run("an expired token returns to sign-in with a message", func(t *testing.T) {

		eval[bool](b, `(localStorage.setItem('pocketbackup.token', 'not-a-token'), true)`)
		b.do(30*time.Second, chromedp.Navigate(page+"#/backups"))
		b.wait("the sign-in with its message", `(document.querySelector('#login-message')||{}).textContent?.includes('sign in again')`, 20*time.Second)
		b.screen("signin-expired")
	})
}

// waitFile waits until path holds size bytes and returns them.
func waitFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(path); err == nil && len(data) == size {
			return data
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			t.Fatalf("download did not arrive at %s (dir: %v)", path, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A create of ballastSize through a link of slowLinkRate takes seconds.
// The ballast is several times what the create holds in flight (the
// overlap writers' buffers and the S3 uploader's concurrent parts, about
// 30 MiB): with less, the progress jumped to most of the total at once and
// then waited on the link, and the page could miss every moving sample.
const (
	ballastSize  = 160 << 20
	slowLinkRate = 32 << 20 // bytes per second
)

// throttled passes request bodies to h at most rate bytes a second in
// all, however many connections carry them (an S3 upload sends its parts
// side by side): a slow link to the storage, so that an operation can be
// watched.
func throttled(h http.Handler, rate int) http.Handler {
	link := &sharedLink{rate: rate}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &slowReader{r: r.Body, link: link}
		h.ServeHTTP(w, r)
	})
}

// sharedLink is the one link's schedule: when its next byte may pass.
type sharedLink struct {
	rate int
	mu   sync.Mutex
	next time.Time
}

// take reserves n bytes of the link and waits for their turn.
func (l *sharedLink) take(n int) {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(n) * time.Second / time.Duration(l.rate))
	until := l.next
	l.mu.Unlock()
	time.Sleep(time.Until(until))
}

type slowReader struct {
	r    io.ReadCloser
	link *sharedLink
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := s.r.Read(p)
	s.link.take(n)
	return n, err
}

func (s *slowReader) Close() error { return s.r.Close() }

// writeRandom writes size incompressible bytes to path.
func writeRandom(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(f, rng, int64(size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

package host_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/notify"
)

// scrape reads GET /metrics with the superuser's token and parses it with
// Prometheus' own text parser.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.server.URL+"/metrics", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", e.superTok)
	return scrapeRequest(e.t, req)
}

func scrapeRequest(t *testing.T, req *http.Request) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// metricValue sums the samples of name whose labels include want
// (counter, gauge, or a histogram's count).
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func TestMetricsRoutes(t *testing.T) {
	e := newEnv(t)
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "GET", path: "/metrics", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "wrong auth", method: "GET", path: "/metrics", token: "garbage", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "user", method: "GET", path: "/metrics", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "superuser", method: "GET", path: "/metrics", token: "super", wantStatus: 200,
			contains: []string{"# TYPE pocketbackup_operations_total counter", "pocketbackup_filesystem_free_bytes{volume=\"data\"}",
				"pocketbackup_plugin_starts_total{how=\"launch\"} 1"}},
	})
}

// TestMetricsCountOperations scrapes before and after a create, a failed
// create and a restore: each moves its own counters and nothing else.
func TestMetricsCountOperations(t *testing.T) {
	var settings memSettings
	re := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.Settings = &settings })
	hr := newHookReceiver(t, 200)
	if status, body := re.patchSettings(`{"backups":{"notify":{"webhooks":[{"url":"` + hr.srv.URL + `"}]}}}`); status != 200 {
		t.Fatal(status, body)
	}
	createOK := map[string]string{"operation": "create", "trigger": "manual", "result": "success"}
	createFail := map[string]string{"operation": "create", "trigger": "manual", "result": "failure"}
	restoreOK := map[string]string{"operation": "restore", "trigger": "manual", "result": "success"}

	before := re.scrape()
	if v := metricValue(before, "pocketbackup_operations_total", createOK); v != 0 {
		t.Fatalf("creates before any: %v", v)
	}
	if _, ok := before["pocketbackup_operations_total"]; !ok {
		t.Fatal("operations_total is not exported before the first operation")
	}

	re.createAndWait("one.zip")
	afterCreate := re.scrape()
	if v := metricValue(afterCreate, "pocketbackup_operations_total", createOK); v != 1 {
		t.Errorf("successful creates = %v, want 1", v)
	}
	if v := metricValue(afterCreate, "pocketbackup_last_success_timestamp_seconds", map[string]string{"operation": "create", "trigger": "manual"}); v <= 0 {
		t.Errorf("last success time = %v", v)
	}
	if v := metricValue(afterCreate, "pocketbackup_operation_size_bytes", map[string]string{"operation": "create"}); v != 1 {
		t.Errorf("size observations = %v, want 1", v)
	}
	if v := metricValue(afterCreate, "pocketbackup_backups_stored", nil); v != 1 {
		t.Errorf("backups stored = %v, want 1", v)
	}
	if v := metricValue(afterCreate, "pocketbackup_backups_stored_bytes", nil); v <= 0 {
		t.Errorf("backups stored bytes = %v", v)
	}
	if v := metricValue(afterCreate, "pocketbackup_last_good_backup_timestamp_seconds", nil); v <= 0 {
		t.Errorf("last good backup = %v", v)
	}

	// A create that fails in the archive stage.
	backupsDir := filepath.Join(re.dataDir, "backups")
	moved := backupsDir + ".moved"
	host.SetBeforeArchive(re.host, func() {
		if err := os.Rename(backupsDir, moved); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(backupsDir, []byte("not a dir"), 0o644); err != nil {
			t.Error(err)
		}
	})
	if status, body, _ := re.do("POST", "/api/backups", re.superTok, "application/json", strings.NewReader(`{"name":"doomed.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	if last := re.waitIdle(); last["ok"] != false {
		t.Fatalf("create should have failed: %v", last)
	}
	host.SetBeforeArchive(re.host, nil)
	if err := os.Remove(backupsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, backupsDir); err != nil {
		t.Fatal(err)
	}
	afterFail := re.scrape()
	if v := metricValue(afterFail, "pocketbackup_operations_total", createOK); v != 1 {
		t.Errorf("successful creates after a failure = %v, want still 1", v)
	}
	if v := metricValue(afterFail, "pocketbackup_operations_total", createFail); v != 1 {
		t.Errorf("failed creates = %v, want 1", v)
	}
	if v := metricValue(afterFail, "pocketbackup_operation_failures_total", map[string]string{"operation": "create", "stage": "archive"}); v != 1 {
		t.Errorf("create failures at the archive stage = %v, want 1 (%v)", v, afterFail["pocketbackup_operation_failures_total"])
	}

	// A restore: counted by the process after the restart, whose plugin
	// is the reattached one.
	if status, body, _ := re.do("POST", "/api/backups/one.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	next := re.restartHost()
	if ev := hr.next(t); ev.Type != notify.EventFailed || ev.Key != "doomed.zip" {
		t.Errorf("first event %+v, want the failed create", ev.Event)
	}
	if ev := hr.next(t); ev.Type != notify.EventRestoreCompleted || ev.Key != "one.zip" || ev.Operation != "restore" {
		t.Errorf("second event %+v, want restore_completed", ev.Event)
	}
	afterRestore := next.scrape()
	if v := metricValue(afterRestore, "pocketbackup_operations_total", restoreOK); v != 1 {
		t.Errorf("successful restores = %v, want 1", v)
	}
	if v := metricValue(afterRestore, "pocketbackup_plugin_starts_total", map[string]string{"how": "reattach"}); v != 1 {
		t.Errorf("plugin reattaches = %v, want 1", v)
	}
	if v := metricValue(afterRestore, "pocketbackup_operations_total", map[string]string{"result": "failure"}); v != 0 {
		t.Errorf("failures in the new process = %v, want 0", v)
	}
	// The restore is reported once: a third process does not count it again.
	host.ReleaseDataDir(next.host) // the second process is gone too
	third := re.restartHost()
	if v := metricValue(third.scrape(), "pocketbackup_operations_total", restoreOK); v != 0 {
		t.Errorf("restores counted again by a later start: %v", v)
	}
	if status, _, _ := third.do("POST", "/api/settings/test/notify", third.superTok, "", nil); status != 200 {
		t.Fatal(status)
	}
	if ev := hr.next(t); ev.Type != notify.EventTest {
		t.Errorf("after the test event came %+v: the restore was notified twice", ev.Event)
	}
}

func TestMetricsCountLogins(t *testing.T) {
	e := newEnv(t)
	body := `{"identity":"admin@example.com","password":"wrong-password"}`
	for range 6 { // the sixth is over the per-identity limit of 5
		e.do("POST", "/api/collections/_superusers/auth-with-password", "", "application/json", strings.NewReader(body))
	}
	fams := e.scrape()
	if v := metricValue(fams, "pocketbackup_login_failures_total", nil); v != 5 {
		t.Errorf("login failures = %v, want 5", v)
	}
	if v := metricValue(fams, "pocketbackup_login_rate_limited_total", nil); v != 1 {
		t.Errorf("rate limited = %v, want 1", v)
	}
}

// TestMetricsPrivateAddress: Config.MetricsAddr serves /metrics without a
// token, and nothing else.
func TestMetricsPrivateAddress(t *testing.T) {
	var addr string
	e := newEnvWith(t, func(cfg *host.Config) { cfg.MetricsAddr = "127.0.0.1:0" })
	addr = e.host.MetricsAddr()
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	fams := scrapeRequest(t, req)
	if _, ok := fams["pocketbackup_operations_total"]; !ok {
		t.Fatal("no operations_total on the private address")
	}
	resp, err := http.Get("http://" + addr + "/api/backups")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/api/backups on the metrics address: %d, want 404", resp.StatusCode)
	}
}

package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pocketbackup/pocketbackup/host/metrics"
)

// TestNamesFollowConventions runs Prometheus' own linter over every
// metric, after each has a sample: units as suffixes, _total on counters,
// help texts.
func TestNamesFollowConventions(t *testing.T) {
	m := metrics.New(metrics.Probe{
		Running: func() (metrics.Running, bool) {
			return metrics.Running{Operation: "create", BytesDone: 1, BytesTotal: 2}, true
		},
		FreeBytes: func() map[string]uint64 { return map[string]uint64{metrics.VolumeData: 1} },
		Logins:    func() (uint64, uint64) { return 1, 1 },
	})
	m.Succeeded("create", metrics.TriggerManual, time.Second, 1<<20, time.Now())
	m.Failed("restore", metrics.TriggerManual, "extract", "no_space", time.Second)
	m.Stored(1, 1)
	m.StorageError("unreachable")
	m.PluginStarted("launch")
	m.Notified("webhook", true)
	m.Freshness(time.Now(), false)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

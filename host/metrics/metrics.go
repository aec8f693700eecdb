// Package metrics declares, in one place, everything the host exports to
// Prometheus, on a registry of its own (never the global one, so an app
// embedding the host keeps its own metrics apart). The host reports events
// through the methods here; gauges that describe the present (the running
// operation, free space, login counters) are read at scrape time through
// a Probe. Every label takes its values from a small fixed set: operation
// kinds, triggers, stages, error kinds, volumes; never a backup key, a
// path or anything a client chose.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "pocketbackup"

// Label values of trigger.
const (
	TriggerManual    = "manual"
	TriggerScheduled = "scheduled"
	TriggerUpload    = "upload"
)

// Volumes whose free space is exported.
const (
	VolumeData    = "data"    // the data directory's filesystem
	VolumeBackups = "backups" // a local (file://) backups folder's filesystem
)

// Running is the operation in progress, as a Probe reports it.
type Running struct {
	Operation  string
	BytesDone  int64
	BytesTotal int64
}

// Probe reads the present state at scrape time. A nil field exports
// nothing for its metrics.
type Probe struct {
	// Running returns the operation in progress, false when none runs.
	Running func() (Running, bool)
	// FreeBytes returns the free space per volume (VolumeData,
	// VolumeBackups); a volume missing from the map is not exported.
	FreeBytes func() map[string]uint64
	// Logins returns the logins refused for wrong credentials and those
	// answered 429 by the login limit.
	Logins func() (failures, limited uint64)
}

// Metrics holds the host's metrics and their registry.
type Metrics struct {
	reg *prometheus.Registry

	lastSuccess   *prometheus.GaugeVec
	operations    *prometheus.CounterVec
	failures      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	size          *prometheus.HistogramVec
	stored        prometheus.Gauge
	storedBytes   prometheus.Gauge
	storageErrors *prometheus.CounterVec
	pluginStarts  *prometheus.CounterVec
	notifications *prometheus.CounterVec
	lastGood      prometheus.Gauge
	stale         prometheus.Gauge
}

// Operation kinds known in advance, so their series exist at zero before
// the first event (a rate over a missing series says nothing).
var knownOperations = []string{"create", "restore", "verify"}

// New declares the metrics and registers them, with probe's, on a fresh
// registry.
func New(probe Probe) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful operation, by operation (create, restore, verify) and trigger (manual, scheduled, upload).",
		}, []string{"operation", "trigger"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "operations_total",
			Help: "Operations finished, by operation, trigger and result (success, failure).",
		}, []string{"operation", "trigger", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "operation_failures_total",
			Help: "Failed operations, by operation, the stage that failed and the kind of error.",
		}, []string{"operation", "stage", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "operation_duration_seconds",
			Help:    "How long operations took, by operation and result.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 14), // 0.5 s .. ~68 min
		}, []string{"operation", "result"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "operation_size_bytes",
			Help:    "Bytes an operation moved (archive size of a create or upload, extracted size of a restore), successful ones only.",
			Buckets: prometheus.ExponentialBuckets(1<<20, 4, 10), // 1 MiB .. 256 GiB
		}, []string{"operation"}),
		stored: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "backups_stored",
			Help: "Number of backups in the storage, as last listed.",
		}),
		storedBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "backups_stored_bytes",
			Help: "Total size of the backups in the storage, as last listed.",
		}),
		storageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "storage_errors_total",
			Help: "Failures of the backups storage itself, by kind (no_bucket, access_denied, unreachable, no_space).",
		}, []string{"kind"}),
		pluginStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "plugin_starts_total",
			Help: "Plugin processes taken into use, by how: launch (first), restart (after one died), reattach (kept across a restore's restart).",
		}, []string{"how"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "notifications_total",
			Help: "Notification deliveries, by channel (webhook, email) and result (sent, failed).",
		}, []string{"channel", "result"}),
		lastGood: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_good_backup_timestamp_seconds",
			Help: "Unix time of the newest successful backup (0: none known).",
		}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "backup_stale",
			Help: "1 when no successful backup is newer than backups.notify.staleAfter, else 0.",
		}),
	}
	m.reg.MustRegister(m.lastSuccess, m.operations, m.failures, m.duration, m.size, m.stored, m.storedBytes,
		m.storageErrors, m.pluginStarts, m.notifications, m.lastGood, m.stale, probeCollector{probe})
	for _, op := range knownOperations {
		for _, result := range []string{"success", "failure"} {
			m.duration.WithLabelValues(op, result)
			for _, tr := range []string{TriggerManual, TriggerScheduled, TriggerUpload} {
				m.operations.WithLabelValues(op, tr, result)
			}
		}
	}
	for _, how := range []string{"launch", "restart", "reattach"} {
		m.pluginStarts.WithLabelValues(how)
	}
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry the metrics live in (an app may add its own).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Succeeded records a successful operation.
func (m *Metrics) Succeeded(op, trigger string, took time.Duration, bytes int64, at time.Time) {
	m.lastSuccess.WithLabelValues(op, trigger).Set(float64(at.UnixNano()) / 1e9)
	m.operations.WithLabelValues(op, trigger, "success").Inc()
	m.duration.WithLabelValues(op, "success").Observe(took.Seconds())
	if bytes > 0 {
		m.size.WithLabelValues(op).Observe(float64(bytes))
	}
}

// Failed records a failed operation; took is 0 for one that never started
// (a scheduled backup that found the lock busy).
func (m *Metrics) Failed(op, trigger, stage, kind string, took time.Duration) {
	m.operations.WithLabelValues(op, trigger, "failure").Inc()
	m.failures.WithLabelValues(op, stage, kind).Inc()
	if took > 0 {
		m.duration.WithLabelValues(op, "failure").Observe(took.Seconds())
	}
}

// Stored records the storage's content as last listed.
func (m *Metrics) Stored(count int, bytes int64) {
	m.stored.Set(float64(count))
	m.storedBytes.Set(float64(bytes))
}

// StorageError counts a failure of the storage itself.
func (m *Metrics) StorageError(kind string) { m.storageErrors.WithLabelValues(kind).Inc() }

// PluginStarted counts a plugin taken into use: how is "launch",
// "restart" or "reattach".
func (m *Metrics) PluginStarted(how string) { m.pluginStarts.WithLabelValues(how).Inc() }

// Notified counts a notification delivery on channel ("webhook",
// "email"); ok false counts a delivery that failed after its retries.
func (m *Metrics) Notified(channel string, ok bool) {
	result := "sent"
	if !ok {
		result = "failed"
	}
	m.notifications.WithLabelValues(channel, result).Inc()
}

// Freshness records the newest good backup's time (zero: none) and
// whether it is older than the dead-man's switch allows.
func (m *Metrics) Freshness(lastGood time.Time, stale bool) {
	if lastGood.IsZero() {
		m.lastGood.Set(0)
	} else {
		m.lastGood.Set(float64(lastGood.Unix()))
	}
	v := 0.0
	if stale {
		v = 1
	}
	m.stale.Set(v)
}

package metrics

import "github.com/prometheus/client_golang/prometheus"

// The metrics a Probe answers at scrape time.
var (
	descRunning = prometheus.NewDesc(namespace+"_operation_running",
		"1 while an operation runs, by operation.", []string{"operation"}, nil)
	descDone = prometheus.NewDesc(namespace+"_operation_progress_bytes",
		"Bytes the running operation has done.", []string{"operation"}, nil)
	descTotal = prometheus.NewDesc(namespace+"_operation_progress_total_bytes",
		"Bytes the running operation has to do (0 while unknown).", []string{"operation"}, nil)
	descFree = prometheus.NewDesc(namespace+"_filesystem_free_bytes",
		"Free space available to the app, by volume (data: the data directory's filesystem; backups: a local backups folder's).", []string{"volume"}, nil)
	descLoginFailures = prometheus.NewDesc(namespace+"_login_failures_total",
		"Logins refused for wrong credentials.", nil, nil)
	descLoginLimited = prometheus.NewDesc(namespace+"_login_rate_limited_total",
		"Logins answered 429 by the login limit.", nil, nil)
)

// probeCollector exports a Probe's readings.
type probeCollector struct{ p Probe }

func (c probeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRunning, descDone, descTotal, descFree, descLoginFailures, descLoginLimited} {
		ch <- d
	}
}

func (c probeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.p.Running != nil {
		run, ok := c.p.Running()
		for _, op := range knownOperations {
			v := 0.0
			if ok && run.Operation == op {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, v, op)
		}
		if ok {
			ch <- prometheus.MustNewConstMetric(descDone, prometheus.GaugeValue, float64(run.BytesDone), run.Operation)
			ch <- prometheus.MustNewConstMetric(descTotal, prometheus.GaugeValue, float64(run.BytesTotal), run.Operation)
		}
	}
	if c.p.FreeBytes != nil {
		for vol, free := range c.p.FreeBytes() {
			ch <- prometheus.MustNewConstMetric(descFree, prometheus.GaugeValue, float64(free), vol)
		}
	}
	if c.p.Logins != nil {
		failures, limited := c.p.Logins()
		ch <- prometheus.MustNewConstMetric(descLoginFailures, prometheus.CounterValue, float64(failures))
		ch <- prometheus.MustNewConstMetric(descLoginLimited, prometheus.CounterValue, float64(limited))
	}
}

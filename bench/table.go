package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdicts of a row.
const (
	pass = "PASS"
	fail = "FAIL"
	info = "info"
)

// row is one line of the result table; Value and Base keep the numbers
// behind Ours and Baseline for -json and -compare.
type row struct {
	Key      string  `json:"key"` // stable name, for -compare
	Figure   string  `json:"figure"`
	Ours     string  `json:"ours"`
	Baseline string  `json:"baseline"`
	Ratio    string  `json:"ratio"`
	Target   string  `json:"target"`
	Verdict  string  `json:"verdict"`
	Value    float64 `json:"value,omitempty"`
	Base     float64 `json:"base,omitempty"`
}

// report is everything one run measured.
type report struct {
	Machine     machine   `json:"machine"`
	SizeBytes   int64     `json:"sizeBytes"`
	DataBytes   int64     `json:"dataBytes"`
	Started     time.Time `json:"started"`
	LoadAtStart string    `json:"loadAtStart"` // 1-minute load average
	Seconds     float64   `json:"seconds"`
	Rows        []row     `json:"rows"`
	Notes       []string  `json:"notes"`
	Broken      string    `json:"broken,omitempty"` // the harness error, if any
}

func (r *report) add(x row) { r.Rows = append(r.Rows, x) }

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// ratioRow: ours and base are rates (higher is better); passes when
// ours/base ≥ min.
func ratioRow(key, figure string, ours, base float64, unit string, minRatio float64) row {
	ratio := 0.0
	if base > 0 {
		ratio = ours / base
	}
	return row{Key: key, Figure: figure, Ours: num(ours) + " " + unit, Baseline: num(base) + " " + unit,
		Ratio: fmt.Sprintf("%.2f×", ratio), Target: fmt.Sprintf("≥ %g×", minRatio),
		Verdict: verdict(ratio >= minRatio), Value: ours, Base: base}
}

// atMostRow passes when value ≤ limit.
func atMostRow(key, figure string, value float64, unit string, limit float64) row {
	return row{Key: key, Figure: figure, Ours: num(value) + " " + unit, Baseline: "—", Ratio: "—",
		Target: fmt.Sprintf("≤ %s %s", num(limit), unit), Verdict: verdict(value <= limit), Value: value}
}

// atLeastRow passes when value ≥ limit.
func atLeastRow(key, figure string, value float64, unit string, limit float64) row {
	return row{Key: key, Figure: figure, Ours: num(value) + " " + unit, Baseline: "—", Ratio: "—",
		Target: fmt.Sprintf("≥ %s %s", num(limit), unit), Verdict: verdict(value >= limit), Value: value}
}

// checkRow is a yes/no requirement.
func checkRow(key, figure string, ok bool, ours, target string) row {
	return row{Key: key, Figure: figure, Ours: ours, Baseline: "—", Ratio: "—", Target: target, Verdict: verdict(ok)}
}

// infoRow has no target.
func infoRow(key, figure, ours, base string) row {
	if base == "" {
		base = "—"
	}
	return row{Key: key, Figure: figure, Ours: ours, Baseline: base, Ratio: "—", Target: "—", Verdict: info}
}

func verdict(ok bool) string {
	if ok {
		return pass
	}
	return fail
}

// num formats a figure with three significant digits or so.
func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func mibps(b int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return mib(b) / d.Seconds()
}

// print writes the machine, the table, the notes and the footer.
func (r *report) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\npocketbackup bench — %s data set (%s on disk), %s\n", formatSize(r.SizeBytes), formatSize(r.DataBytes), r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s RAM, %s, %s/%s, kernel %s\n", m.CPUs, m.CPUModel, formatSize(m.RAMBytes), m.GoVersion, runtime.GOOS, runtime.GOARCH, m.Kernel)
	if m.Reclaim != "" {
		fmt.Fprintf(w, "memory: %s\n", m.Reclaim)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tours\tbaseline\tratio\ttarget\tpass/fail")
	fmt.Fprintln(tw, "------\t----\t--------\t-----\t------\t---------")
	fails := 0
	for _, x := range r.Rows {
		if x.Verdict == fail {
			fails++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Figure, x.Ours, x.Baseline, x.Ratio, x.Target, x.Verdict)
	}
	tw.Flush()
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintln(w, "  - "+n)
		}
	}
	fmt.Fprintln(w)
	if r.Broken != "" {
		fmt.Fprintf(w, "HARNESS ERROR (exit status 1): %s\n", r.Broken)
	}
	fmt.Fprintf(w, "%d of %d targeted figures FAIL. A FAIL is a measurement, not a harness error: the exit status is 0 unless the harness itself broke. Run took %s.\n",
		fails, countTargets(r.Rows), time.Duration(r.Seconds*float64(time.Second)).Round(time.Second))
}

func countTargets(rows []row) int {
	n := 0
	for _, x := range rows {
		if x.Verdict == pass || x.Verdict == fail {
			n++
		}
	}
	return n
}

// writeJSON saves the report for a later -compare.
func (r *report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// compareRSS adds, for each peak-RSS row of prev (a smaller data set),
// whether this run's peak is not higher. Memory must not grow with the data:
// allowed is prev + 10% (or 4 MiB) for sampling noise.
func (r *report) compareRSS(prevPath string) error {
	data, err := os.ReadFile(prevPath)
	if err != nil {
		return err
	}
	var prev report
	if err := json.Unmarshal(data, &prev); err != nil {
		return fmt.Errorf("%s: %w", prevPath, err)
	}
	old := map[string]row{}
	for _, x := range prev.Rows {
		old[x.Key] = x
	}
	var added []row
	for _, x := range r.Rows {
		p, ok := old[x.Key]
		if !ok || !strings.HasPrefix(x.Key, "rss.") {
			continue
		}
		limit := max(p.Value*1.10, p.Value+4)
		added = append(added, row{Key: x.Key + ".vs", Figure: x.Figure + " vs " + formatSize(prev.SizeBytes),
			Ours: num(x.Value) + " MiB", Baseline: num(p.Value) + " MiB", Ratio: fmt.Sprintf("%.2f×", x.Value/max(p.Value, 1)),
			Target: "not higher (±10%)", Verdict: verdict(x.Value <= limit), Value: x.Value, Base: p.Value})
	}
	r.Rows = append(r.Rows, added...)
	return nil
}

// machine describes where the figures were taken.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	RAMBytes  int64  `json:"ramBytes"`
	GoVersion string `json:"goVersion"`
	Kernel    string `json:"kernel"`
	Reclaim   string `json:"reclaim,omitempty"` // proactive page reclaim, when on
}

func readMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPUModel = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		kib, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		m.RAMBytes = kib << 10
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	m.Reclaim = damonPageout()
	return m
}

// damonPageout describes an active DAMON "pageout" scheme: it evicts
// memory, page cache included, that stayed idle, so a data set read a
// minute ago may come from disk again.
func damonPageout() string {
	const kd = "/sys/kernel/mm/damon/admin/kdamonds/0"
	state, _ := os.ReadFile(kd + "/state")
	scheme := kd + "/contexts/0/schemes/0"
	action, _ := os.ReadFile(scheme + "/action")
	if strings.TrimSpace(string(state)) != "on" || strings.TrimSpace(string(action)) != "pageout" {
		return ""
	}
	read := func(name string) int64 {
		data, _ := os.ReadFile(scheme + "/" + name)
		n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		return n
	}
	aggr, _ := os.ReadFile(kd + "/contexts/0/monitoring_attrs/intervals/aggr_us")
	aggrUS, _ := strconv.ParseInt(strings.TrimSpace(string(aggr)), 10, 64)
	idle := time.Duration(read("access_pattern/age/min")*aggrUS) * time.Microsecond
	return fmt.Sprintf("DAMON pageout on: memory idle for %v is evicted, up to %s/s", idle, formatSize(read("quotas/bytes")*1000/max(read("quotas/reset_interval_ms"), 1)))
}

// procField returns the value of the first "key: value" line of file.
func procField(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseSize reads "1.5GiB", "64MiB", "512KiB", "2GB" or a byte count.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * mult), nil
}

// formatSize writes bytes with a binary unit.
func formatSize(b int64) string {
	switch {
	case b >= 1<<30:
		return strconv.FormatFloat(float64(b)/(1<<30), 'f', 2, 64) + " GiB"
	case b >= 1<<20:
		return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
	default:
		return strconv.FormatFloat(float64(b)/(1<<10), 'f', 1, 64) + " KiB"
	}
}

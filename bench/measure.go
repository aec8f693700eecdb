package main

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// defaultCreateRuns is how many times each side of the create runs,
// alternating baseline and ours (options.createRuns). On a shared 2-CPU
// machine one run can take 40% more CPU time than the next for the same
// work, so the table shows the pair with the middle ratio, and the notes
// every pair.
const defaultCreateRuns = 3

// createPair is one baseline create and the create through the host right
// after it.
type createPair struct {
	base        createResult
	key         string
	hostSecs    float64 // "backup done": snapshot + archive
	archiveSecs float64 // "backup created": the plugin's archive
	// "databases read by the archive; released": from the host's start
	// of the create (0: no such line)
	releasedSecs float64
	wall         time.Duration
	listed       time.Duration // POST → a GET /api/backups lists the backup
	bytesIn      float64
	bytesOut     float64
	ws           writerStats
	ackedBefore  int
	cpuHost      float64
	cpuPlugin    float64
}

func (p createPair) oursRate() float64 { return p.bytesIn / (1 << 20) / p.hostSecs }
func (p createPair) baseRate() float64 { return mibps(p.base.BytesIn, p.base.Took) }
func (p createPair) ratio() float64    { return p.oursRate() / p.baseRate() }

// measureCreate runs options.createRuns pairs of the stdlib baseline over the data
// directory and a create through the host while the writer inserts a row
// every 10 ms, then checks the first backup's zip and databases (the one
// the later phases use) and deletes the others.
func (b *bench) measureCreate(ctx context.Context) error {
	var pairs []createPair
	for i := range b.opts.createRuns {
		key := backupKey
		if i > 0 {
			key = fmt.Sprintf("bench-run-%d.zip", i+1)
		}
		p, err := b.createPair(ctx, key, i+1)
		if err != nil {
			return err
		}
		pairs = append(pairs, p)
	}
	byRatio := slices.Clone(pairs)
	slices.SortFunc(byRatio, func(x, y createPair) int { return cmpFloat(x.ratio(), y.ratio()) })
	mid := byRatio[len(byRatio)/2]
	var runs []string
	for i, p := range pairs {
		runs = append(runs, fmt.Sprintf("run %d: ours %.2f s (archive %.2f s), baseline %.2f s, %.2f×", i+1, p.hostSecs, p.archiveSecs, p.base.Took.Seconds(), p.ratio()))
	}

	b.rep.add(ratioRow("create.throughput", "Create throughput (end to end, incl. DB snapshots)", mid.oursRate(), mid.baseRate(), "MiB/s", 5))
	b.rep.add(infoRow("create.seconds", "Create time (ours: snapshot + archive)",
		fmt.Sprintf("%.1f s (%.1f + %.1f)", mid.hostSecs, mid.hostSecs-mid.archiveSecs, mid.archiveSecs), fmt.Sprintf("%.1f s", mid.base.Took.Seconds())))
	b.rep.add(infoRow("create.size", "Backup size", formatSize(int64(mid.bytesOut)), formatSize(mid.base.BytesOut)))
	b.noteHashRate(mid.bytesOut, mid.hostSecs)
	b.rep.note("create: %d alternating pairs (baseline, then ours), the middle ratio shown: %s", b.opts.createRuns, strings.Join(runs, "; "))
	b.rep.note("create: ours timed by the host's \"backup done\" line (snapshot %.2f s, then the plugin's archive %.2f s); wall time POST → outcome seen in /api/health %.2f s. Input %s ours, %s baseline (live files with -wal/-shm).",
		mid.hostSecs-mid.archiveSecs, mid.archiveSecs, mid.wall.Seconds(), formatSize(int64(mid.bytesIn)), formatSize(mid.base.BytesIn))
	b.rep.note("create baseline: stdlib archive/zip + compress/flate BestSpeed, one goroutine, written to a file in the same temp dir as pb_data/backups and fsynced like ours (the fsync took %.2f s of %.2f s; PocketBase itself skips it but writes the zip twice, temp file then backups dir).",
		mid.base.SyncTook.Seconds(), mid.base.Took.Seconds())
	b.rep.note("create CPU: host %.1f s, plugin %.1f s in %.1f s of wall time", mid.cpuHost, mid.cpuPlugin, mid.wall.Seconds())

	for _, p := range pairs[1:] {
		if _, err := b.h.call(ctx, "DELETE", "/api/backups/"+p.key, nil, nil); err != nil {
			return fmt.Errorf("delete %s: %w", p.key, err)
		}
	}
	first := pairs[0]
	b.zipPath = filepath.Join(b.dataDir, "backups", backupKey)
	if b.opts.encrypt {
		if err := b.checkEncrypted(ctx); err != nil {
			return err
		}
	}
	zr, err := checkZip(ctx, b.zipPath)
	if err != nil {
		return fmt.Errorf("check zip: %w", err)
	}
	b.zip = zr
	b.rep.add(checkRow("create.zip", "Create: zip PocketBase restores + unzip -t", zr.ok(), okText(zr.ok()), "store/deflate only, unzip -t ok"))
	b.rep.note("zip: %s", zr)

	// The writer row shows the run with the slowest insert.
	worst := first
	for _, p := range pairs {
		if p.ws.Err != nil || (worst.ws.Err == nil && p.ws.Max > worst.ws.Max) {
			worst = p
		}
	}
	snapshotEnd := 0.0
	if worst.archiveSecs > 0 {
		snapshotEnd = worst.hostSecs - worst.archiveSecs
	}
	b.addWriterRows(worst.ws, worst.ackedBefore, snapshotEnd, worst.releasedSecs, worst.hostSecs)
	var listed []time.Duration
	for _, p := range pairs {
		listed = append(listed, p.listed)
	}
	b.ours.CreateSecs = median(listed).Seconds()
	b.ours.WorstInsert = worst.ws.Max
	return b.checkSnapshot(ctx, first.ws, first.ackedBefore)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// createPair runs the baseline, then a create of key through the host
// while the writer inserts a row every 10 ms.
func (b *bench) createPair(ctx context.Context, key string, run int) (createPair, error) {
	p := createPair{key: key}
	b.progress("create %d/%d: stdlib baseline (archive/zip, deflate level 1, one goroutine)", run, b.opts.createRuns)
	baseOut := filepath.Join(b.root, "baseline-create.zip")
	settle()
	lw := b.startLoad(fmt.Sprintf("baseline create %d", run))
	base, err := baselineCreate(b.dataDir, baseOut)
	b.stopLoad(lw)
	if err != nil {
		return p, fmt.Errorf("baseline create: %w", err)
	}
	p.base = base
	if err := os.Remove(baseOut); err != nil {
		return p, err
	}
	settle()

	b.progress("create %d/%d: ours, with the writer inserting every 10 ms", run, b.opts.createRuns)
	w := startWriter(ctx, b.h, 10*time.Millisecond)
	if err := w.waitCount(ctx, 10); err != nil {
		w.finish(time.Now())
		return p, fmt.Errorf("writer before the create: %w", err)
	}
	p.ackedBefore = w.count()
	mark := b.h.log.mark()
	cpuHost, cpuPlugin := b.rss.cpuOf(phaseCreate, procHost), b.rss.cpuOf(phaseCreate, procPlugin)
	b.rss.setPhase(phaseCreate)
	lw = b.startLoad(fmt.Sprintf("create %d", run))
	start := time.Now()
	if _, err := b.h.call(ctx, "POST", "/api/backups", map[string]string{"name": key}, nil); err != nil {
		w.finish(start)
		return p, err
	}
	out, err := b.h.waitOutcome(ctx, "create", key, b.timeout)
	p.wall = time.Since(start)
	if err == nil && out.OK {
		err = mustBeListed(ctx, b.h, key)
	}
	p.listed = time.Since(start)
	b.stopLoad(lw)
	b.rss.setPhase(phaseIdle)
	p.cpuHost = b.rss.cpuOf(phaseCreate, procHost) - cpuHost
	p.cpuPlugin = b.rss.cpuOf(phaseCreate, procPlugin) - cpuPlugin
	if err == nil {
		err = w.waitCount(ctx, w.count()+5) // the writer goes on after the create
	}
	p.ws = w.finish(start)
	if err != nil {
		return p, err
	}
	if !out.OK {
		return p, fmt.Errorf("create failed: %s (log: %s)", out.Error, b.h.log.path())
	}

	p.hostSecs = p.wall.Seconds()
	if l, ok := b.h.log.find(mark, "backup done", key); ok {
		p.hostSecs, _ = logFloat(l.text, "seconds")
	} else {
		b.rep.note("create %d: no \"backup done\" log line; timed from the POST to the outcome in /api/health instead", run)
	}
	if l, ok := b.h.log.find(mark, "databases read by the archive; released", key); ok {
		p.releasedSecs, _ = logFloat(l.text, "seconds")
	}
	p.bytesIn = float64(b.data.Bytes)
	if l, ok := b.h.log.find(mark, "backup created", key); ok {
		p.archiveSecs, _ = logFloat(l.text, "seconds")
		if v, ok := logFloat(l.text, "bytes_in"); ok {
			p.bytesIn = v
		}
		p.bytesOut, _ = logFloat(l.text, "bytes_out")
	}
	return p, nil
}

func (b *bench) addWriterRows(ws writerStats, ackedBefore int, snapshotEnd, released, createEnd float64) {
	if ws.Err != nil {
		b.rep.add(checkRow("writer.stall", "Writes during create: worst insert", false, "insert failed", "≤ 100 ms"))
		b.rep.note("writer: %v", ws.Err)
		return
	}
	b.rep.add(atMostRow("writer.stall", "Writes during create: worst insert", float64(ws.Max.Microseconds())/1000, "ms", float64(stallLimit.Milliseconds())))
	b.rep.note("writer: %d inserts every 10 ms (%d before the create started), latency p50 %v, p99 %v, %d over %v; slowest (from the create POST): %s",
		ws.Inserts, ackedBefore, ws.P50.Round(10*time.Microsecond), ws.P99.Round(10*time.Microsecond), ws.Stalls, stallLimit, strings.Join(ws.Worst, ", "))
	if snapshotEnd > 0 {
		frozen := "databases released when the archive was done"
		if released > 0 {
			frozen = fmt.Sprintf("frozen databases read and released at %+.2f s", released)
		}
		b.rep.note("create timeline (from the POST): DB snapshots until about %+.2f s, %s, archive until %+.2f s; dirty page cache peaked at %s (vm.dirty_background_ratio %s%%, vm.dirty_ratio %s%% of the reclaimable memory)",
			snapshotEnd, frozen, createEnd, formatSize(b.rss.dirtyPeak(phaseCreate)<<10), sysctl("vm/dirty_background_ratio"), sysctl("vm/dirty_ratio"))
	}
}

// checkSnapshot checks the databases inside the backup.
func (b *bench) checkSnapshot(ctx context.Context, ws writerStats, ackedBefore int) error {
	b.progress("create: checking the backup's databases (integrity_check)")
	dir := filepath.Join(b.root, "check")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	snap, err := checkSnapshot(ctx, b.zipPath, dir)
	if err != nil {
		return fmt.Errorf("check snapshot: %w", err)
	}
	intact := len(snap.Integrity) > 0
	text := ""
	for name, res := range snap.Integrity {
		intact = intact && res == "ok"
		text += fmt.Sprintf("%s %s; ", name, res)
	}
	b.rep.add(checkRow("snapshot.integrity", "Backup DBs: PRAGMA integrity_check", intact, okText(intact), "ok"))
	if !intact {
		b.rep.note("integrity_check: %s", text)
	}
	// The snapshot falls inside the create: it holds every row acked
	// before the POST and at most one unacknowledged row after the last.
	ok := snap.Prefix && snap.Rows >= ackedBefore && snap.Rows <= ws.Inserts+1
	b.rep.add(checkRow("snapshot.prefix", "Backup data.db: writer rows an unbroken prefix", ok,
		fmt.Sprintf("rows 1..%d of %d", snap.Rows, ws.Inserts), fmt.Sprintf("1..k, %d ≤ k ≤ %d", ackedBefore, ws.Inserts+1)))
	if !snap.Prefix {
		b.rep.note("snapshot rows: %s", snap.Gap)
	}
	b.snapRows = snap.Rows
	return nil
}

// sysctl reads /proc/sys/name.
func sysctl(name string) string {
	data, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(data))
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "broken"
}

// measureDownload downloads the backup through the host and plugin and
// from http.ServeFile, alternating, at least 5 times each and until each
// side has run for 2 s (at most 15 times), and compares the medians.
func (b *bench) measureDownload(ctx context.Context) error {
	b.progress("download: ours and http.ServeFile, alternating")
	srv := serveFileBaseline(b.zipPath)
	defer srv.Close()
	fi, err := os.Stat(b.zipPath)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var ours, base []time.Duration
	var oursTotal, baseTotal time.Duration
	lw := b.startLoad("downloads")
	for len(ours) < 5 || (len(ours) < 15 && min(oursTotal, baseTotal) < 2*time.Second) {
		token, err := b.h.fileToken(ctx)
		if err != nil {
			return err
		}
		b.rss.setPhase(phaseDownload)
		took, n, sum, err := download(ctx, client, b.h.url+"/api/backups/"+backupKey+"?token="+token)
		b.rss.setPhase(phaseIdle)
		if err != nil {
			return fmt.Errorf("download: %w", err)
		}
		baseTook, baseN, baseSum, err := download(ctx, client, srv.URL+"/"+backupKey)
		if err != nil {
			return fmt.Errorf("baseline download: %w", err)
		}
		if n != fi.Size() || baseN != n || sum != baseSum {
			return fmt.Errorf("download: %d bytes crc %08x, want %d bytes crc %08x", n, sum, baseN, baseSum)
		}
		ours, base = append(ours, took), append(base, baseTook)
		oursTotal += took
		baseTotal += baseTook
	}
	b.stopLoad(lw)
	b.ours.DownloadMiBps = mibps(fi.Size(), median(ours))
	b.rep.add(ratioRow("download.throughput", "Download through the plugin", mibps(fi.Size(), median(ours)), mibps(fi.Size(), median(base)), "MiB/s", 0.8))
	b.rep.note("download: %s, %d times each side, alternating; medians shown (best: ours %.0f, baseline %.0f MiB/s); the client reads into CRC-32 (same for both); baseline http.ServeFile of the same file on a loopback httptest server",
		formatSize(fi.Size()), len(ours), mibps(fi.Size(), slices.Min(ours)), mibps(fi.Size(), slices.Min(base)))
	return nil
}

// median of ds (not empty).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// download GETs url and returns the time, the bytes and their CRC-32.
func download(ctx context.Context, client *http.Client, url string) (time.Duration, int64, uint32, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	h := crc32.NewIEEE()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 256<<10))
	return time.Since(start), n, h.Sum32(), err
}

// measureUpload streams the backup, as a multipart form, into the host.
func (b *bench) measureUpload(ctx context.Context) error {
	b.progress("upload: ours")
	fi, err := os.Stat(b.zipPath)
	if err != nil {
		return err
	}
	settle()
	b.rss.setPhase(phaseUpload)
	lw := b.startLoad("upload")
	start := time.Now()
	err = upload(ctx, b.h, b.zipPath, uploadKey)
	took := time.Since(start)
	b.stopLoad(lw)
	b.rss.setPhase(phaseIdle)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	b.ours.UploadMiBps = mibps(fi.Size(), took)
	b.rep.add(atLeastRow("upload.throughput", "Upload end to end (POST → 204)", mibps(fi.Size(), took), "MiB/s", 300))
	b.rep.note("upload: %s in %.2f s, multipart streamed from the file through an io.Pipe; 204 after the plugin checked and stored it", formatSize(fi.Size()), took.Seconds())
	if _, err := b.h.call(ctx, "DELETE", "/api/backups/"+uploadKey, nil, nil); err != nil {
		return err
	}
	return nil
}

// upload POSTs file to /api/backups/upload as the multipart part "file"
// named key, streamed.
func upload(ctx context.Context, h *testhost, file, key string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", key)
		if err == nil {
			_, err = io.CopyBuffer(part, f, make([]byte, 1<<20))
		}
		pw.CloseWithError(errors.Join(err, mw.Close()))
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", h.url+"/api/backups/upload", pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", h.token)
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	return nil
}

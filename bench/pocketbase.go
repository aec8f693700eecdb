package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// PocketBase as a baseline: the bench runs PocketBase itself (the module in
// bench/pocketbase, built by `make bench`) on a copy of the same data set
// and drives it through the same REST API as the host, so that each of the
// issue's figures is printed against PocketBase from the same run and the
// same machine, not only against the stdlib baselines.

// sideFigures are one app's figures for the comparison, each measured the
// same way on both apps.
type sideFigures struct {
	CreateSecs    float64       // POST /api/backups → a GET /api/backups lists it
	WorstInsert   time.Duration // slowest insert through the records API during the create
	RestoreSecs   float64       // POST …/restore → a GET of the notes shows the backup's rows
	DownSecs      float64       // GET /api/health unanswered during the restore
	DownOK        bool          // DownSecs was measured (the app went down and came back)
	UploadMiBps   float64       // POST /api/backups/upload → 204, the same zip
	DownloadMiBps float64       // median GET /api/backups/{key}?token=…
}

// pbDownloads is how many times PocketBase's download runs (the median counts).
const pbDownloads = 5

// copyForPocketBase copies the freshly generated data set (before the host
// adds its own tables) to the directory PocketBase will serve.
func (b *bench) copyForPocketBase() error {
	b.pbDir = filepath.Join(b.root, "pb_data_pocketbase")
	b.progress("copying the data set for PocketBase to %s", b.pbDir)
	if err := os.CopyFS(b.pbDir, os.DirFS(b.dataDir)); err != nil {
		return fmt.Errorf("copy data set for PocketBase: %w", err)
	}
	return nil
}

// startPocketBase creates the bench's superuser with PocketBase's own
// command, serves the copied data set and creates the notes collection
// the writer inserts into.
func startPocketBase(ctx context.Context, exe, dataDir, logPath string, echo io.Writer) (*testhost, error) {
	if out, err := exec.CommandContext(ctx, exe, "superuser", "upsert", benchEmail, benchPassword, "--dir="+dataDir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pocketbase superuser upsert: %w: %s", err, out)
	}
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	h, err := launch(ctx, exe, []string{"serve", "--http=" + addr, "--dir=" + dataDir}, addr, logPath, echo)
	if err != nil {
		return nil, fmt.Errorf("pocketbase: %w", err)
	}
	notes := map[string]any{"name": "notes", "type": "base", "fields": []map[string]string{
		{"name": "title", "type": "text"}, {"name": "body", "type": "text"},
	}}
	if _, err := h.call(ctx, "POST", "/api/collections", notes, nil); err != nil {
		return nil, errors.Join(fmt.Errorf("pocketbase: create the notes collection: %w", err), h.stop())
	}
	return h, nil
}

// measurePocketBase measures PocketBase on its copy of the data set: a
// create with the writer inserting every 10 ms, an upload and downloads of
// the zip the host created, and a restore of PocketBase's own backup; then
// it adds the rows comparing both apps.
func (b *bench) measurePocketBase(ctx context.Context, echo io.Writer) (err error) {
	b.progress("PocketBase: starting %s", b.opts.pocketbase)
	b.pb, err = startPocketBase(ctx, b.opts.pocketbase, b.pbDir, filepath.Join(b.root, "pocketbase.log"), echo)
	if err != nil {
		return err
	}
	defer func() {
		if serr := b.pb.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop pocketbase: %w", serr))
		}
	}()
	h := b.pb
	var pb sideFigures

	// As many creates as the host's, the middle time shown; the first
	// backup is the one restored.
	var secs []float64
	var creates []string
	for i := range b.opts.createRuns {
		key := backupKey
		if i > 0 {
			key = fmt.Sprintf("bench-run-%d.zip", i+1)
		}
		took, ws, err := b.pocketBaseCreate(ctx, h, key, i+1)
		if err != nil {
			return err
		}
		secs = append(secs, took)
		pb.WorstInsert = max(pb.WorstInsert, ws.Max)
		creates = append(creates, fmt.Sprintf("run %d: %.2f s, %d inserts, p50 %v, p99 %v, %d over %v, slowest %s", i+1, took,
			ws.Inserts, ws.P50.Round(10*time.Microsecond), ws.P99.Round(10*time.Microsecond), ws.Stalls, stallLimit, strings.Join(ws.Worst, ", ")))
		if i > 0 {
			if _, err := h.call(ctx, "DELETE", "/api/backups/"+key, nil, nil); err != nil {
				return fmt.Errorf("pocketbase delete %s: %w", key, err)
			}
		}
	}
	slices.Sort(secs)
	pb.CreateSecs = secs[len(secs)/2]
	b.rep.note("PocketBase creates (the writer inserting every 10 ms; slowest inserts timed from the create POST): %s", strings.Join(creates, "; "))
	rows, err := b.pocketBaseBackupRows(ctx)
	if err != nil {
		return err
	}

	b.progress("PocketBase: upload of the host's zip")
	fi, err := os.Stat(b.zipPath)
	if err != nil {
		return err
	}
	settle()
	lw := b.startLoad("PocketBase upload")
	start := time.Now()
	err = upload(ctx, h, b.zipPath, uploadKey)
	took := time.Since(start)
	b.stopLoad(lw)
	if err != nil {
		return fmt.Errorf("pocketbase upload: %w", err)
	}
	pb.UploadMiBps = mibps(fi.Size(), took)

	b.progress("PocketBase: downloads of the same zip")
	if pb.DownloadMiBps, err = pocketBaseDownloads(ctx, h, fi.Size()); err != nil {
		return err
	}
	if _, err := h.call(ctx, "DELETE", "/api/backups/"+uploadKey, nil, nil); err != nil {
		return fmt.Errorf("pocketbase delete %s: %w", uploadKey, err)
	}

	b.progress("PocketBase: restore of its backup")
	settle()
	poll := startUpPoller(ctx, h.url, 10*time.Millisecond)
	lw = b.startLoad("PocketBase restore")
	start = time.Now()
	_, err = h.call(ctx, "POST", "/api/backups/"+backupKey+"/restore", nil, nil)
	if err == nil {
		err = waitServing(ctx, h, rows, start.Add(b.timeout))
	}
	pb.RestoreSecs = time.Since(start).Seconds()
	b.stopLoad(lw)
	down, downOK := poll.finish()
	if err != nil {
		return fmt.Errorf("pocketbase restore: %w", err)
	}
	pb.DownSecs, pb.DownOK = down.Seconds(), downOK

	for _, x := range versusRows(b.ours, pb) {
		b.rep.add(x)
	}
	b.rep.note("vs PocketBase: PocketBase v0.36.8 (bench/pocketbase, unmodified, its own module) on a copy of the same generated data set with a notes collection made through its API, run after the host was stopped; create: the middle of %d on each side, worst insert: the slowest of them; one upload and one restore each; create ends when GET /api/backups lists the backup (PocketBase answers the POST when done; the host when it has started, then /api/health is polled); restore ends at the first GET of the notes that shows the backup's %d rows (PocketBase polled every 20 ms; the host once its outcome is in /api/health); upload of the same zip the host created (%s); download of that zip, median of %d", b.opts.createRuns, rows, formatSize(fi.Size()), pbDownloads)
	return nil
}

// pocketBaseCreate creates key on PocketBase while the writer inserts a
// note every 10 ms, and returns the seconds from the POST until a GET
// /api/backups lists it (PocketBase answers the POST when done).
func (b *bench) pocketBaseCreate(ctx context.Context, h *testhost, key string, run int) (float64, writerStats, error) {
	b.progress("PocketBase: create %d/%d, with the writer inserting every 10 ms", run, b.opts.createRuns)
	settle()
	w := startWriter(ctx, h, 10*time.Millisecond)
	if err := w.waitCount(ctx, 10); err != nil {
		w.finish(time.Now())
		return 0, writerStats{}, fmt.Errorf("pocketbase writer before the create: %w", err)
	}
	lw := b.startLoad(fmt.Sprintf("PocketBase create %d", run))
	start := time.Now()
	_, err := h.call(ctx, "POST", "/api/backups", map[string]string{"name": key}, nil)
	if err == nil {
		err = mustBeListed(ctx, h, key)
	}
	took := time.Since(start).Seconds()
	b.stopLoad(lw)
	if err == nil {
		err = w.waitCount(ctx, w.count()+5) // the writer goes on after the create
	}
	ws := w.finish(start)
	if err != nil {
		return 0, ws, fmt.Errorf("pocketbase create: %w", err)
	}
	if ws.Err != nil {
		return 0, ws, fmt.Errorf("pocketbase writer: %w", ws.Err)
	}
	return took, ws, nil
}

// pocketBaseBackupRows checks PocketBase's backup like the host's (its
// databases' integrity, the writer's rows a prefix) and returns the rows a
// restore of it must serve.
func (b *bench) pocketBaseBackupRows(ctx context.Context) (int, error) {
	dir := filepath.Join(b.root, "check-pocketbase")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	snap, err := checkSnapshot(ctx, filepath.Join(b.pbDir, "backups", backupKey), dir)
	if err != nil {
		return 0, fmt.Errorf("check pocketbase backup: %w", err)
	}
	for name, res := range snap.Integrity {
		if res != "ok" {
			return 0, fmt.Errorf("pocketbase backup: %s integrity_check: %s", name, res)
		}
	}
	if !snap.Prefix || snap.Rows == 0 {
		return 0, fmt.Errorf("pocketbase backup: writer rows not a prefix (%d rows): %s", snap.Rows, snap.Gap)
	}
	return snap.Rows, nil
}

// mustBeListed fails unless GET /api/backups lists key.
func mustBeListed(ctx context.Context, h *testhost, key string) error {
	var list []struct {
		Key string `json:"key"`
	}
	if _, err := h.call(ctx, "GET", "/api/backups", nil, &list); err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(e struct {
		Key string `json:"key"`
	}) bool {
		return e.Key == key
	}) {
		return fmt.Errorf("%s not listed by GET /api/backups", key)
	}
	return nil
}

// pocketBaseDownloads downloads the uploaded zip pbDownloads times and
// returns the median MiB/s.
func pocketBaseDownloads(ctx context.Context, h *testhost, size int64) (float64, error) {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var took []time.Duration
	for range pbDownloads {
		token, err := h.fileToken(ctx)
		if err != nil {
			return 0, fmt.Errorf("pocketbase file token: %w", err)
		}
		d, n, _, err := download(ctx, client, h.url+"/api/backups/"+uploadKey+"?token="+token)
		if err != nil {
			return 0, fmt.Errorf("pocketbase download: %w", err)
		}
		if n != size {
			return 0, fmt.Errorf("pocketbase download: %d bytes, want %d", n, size)
		}
		took = append(took, d)
	}
	return mibps(size, median(took)), nil
}

// waitServing polls the notes every 20 ms until the app serves rows of
// them, logging in again when the token is refused (restored data has its
// own superusers).
func waitServing(ctx context.Context, h *testhost, rows int, deadline time.Time) error {
	for {
		var list struct {
			TotalItems int `json:"totalItems"`
		}
		_, err := h.call(ctx, "GET", "/api/collections/notes/records?perPage=1", nil, &list)
		if err == nil && list.TotalItems == rows {
			return nil
		}
		var se *statusError
		if errors.As(err, &se) && (se.status == http.StatusUnauthorized || se.status == http.StatusForbidden) {
			_ = h.login(ctx)
		}
		select {
		case <-h.done:
			return fmt.Errorf("exited during the restore: %v (log: %s)", h.err, h.log.path())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving the backup's %d notes by the deadline (last: %d, %v)", rows, list.TotalItems, err)
		}
	}
}

// Command bench measures pocketbackup's backups side by side with their
// baselines and prints one table: figure, ours, baseline, ratio, target,
// pass/fail.
//
//	go run ./bench -bin=bin -pocketbase=bin/tools/pocketbase -size=1.5GiB   (what `make bench` runs)
//	go run ./bench -quick                     (a 64 MiB smoke run)
//
// It generates a seeded pb_data under a temp dir (a WAL-mode data.db of
// text rows, an auxiliary.db, files under storage/ with 60% of their bytes
// random), starts bin/testhost with the real plugin, and drives it over
// HTTP: create (with a writer inserting a row every 10 ms), download,
// upload and restore, sampling the peak RSS of the host and of the plugin
// from /proc. Baselines run in this process on the same data: the stdlib
// archive/zip at deflate level 1 in one goroutine, the stdlib extraction of
// the same zip, and http.ServeFile of the same backup file. With
// -pocketbase (make bench passes bin/tools/pocketbase), PocketBase itself
// then runs alone on a copy of the same data set and is measured the same
// way through its REST API, for the ratios against PocketBase.
//
// A FAIL row is a measurement: the exit status is 0 unless the harness
// itself broke (1) or the command line is wrong (2).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Backup names the bench uses.
const (
	backupKey = "bench.zip"
	uploadKey = "bench-upload.zip"
)

// Phases the RSS sampler tells apart.
const (
	phaseIdle     = "idle"
	phaseCreate   = "create"
	phaseUpload   = "upload"
	phaseDownload = "download"
	phaseRestore  = "restore"
	phaseVerify   = "verify"
)

// rssLimitMiB is the memory target of the host and of the plugin.
const rssLimitMiB = 100

type options struct {
	// createRuns: pairs of creates, baseline and ours (-create-pairs).
	createRuns int
	bin        string
	size       int64
	files      int
	seed       uint64
	tmp        string
	keep       bool
	verbose    bool
	jsonOut    string
	compare    string
	// encrypt runs the host with encryption at rest (a new age key).
	encrypt bool
	// pocketbase is PocketBase's binary: when set, the same figures are
	// measured on it and compared.
	pocketbase string
}

// bench is one run.
type bench struct {
	opts     options
	root     string // the run's temp dir
	dataDir  string // root/pb_data
	data     dataSet
	h        *testhost
	rss      *rssSampler
	rep      *report
	timeout  time.Duration // of each operation
	zipPath  string        // the created backup
	zip      zipReport
	keyFile  string // the host's age keys file; "" without -encrypt
	snapRows int    // writer rows in the backup
	// verifyQuickRate is quick verify's MiB/s of uncompressed bytes.
	verifyQuickRate float64

	ours  sideFigures // the figures compared with PocketBase
	pbDir string      // PocketBase's copy of the data set
	pb    *testhost   // PocketBase, once started

	loads     []string // other processes' CPU share in each timed step
	disturbed []string // the timed steps where it was over 5%
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, opts, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var size string
	var quick bool
	fs.StringVar(&o.bin, "bin", "bin", "directory with testhost and plugins/ (make build)")
	fs.StringVar(&size, "size", "1.5GiB", "size of the generated data set")
	fs.BoolVar(&quick, "quick", false, "small data set (64 MiB) for a fast smoke run; -size still wins when given")
	fs.IntVar(&o.files, "files", 2000, "files under storage/")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the data set")
	fs.IntVar(&o.createRuns, "create-pairs", defaultCreateRuns, "pairs of creates (stdlib baseline, then ours); the table shows the middle ratio")
	fs.StringVar(&o.tmp, "tmp", "", "parent of the run's temp dir (default: the system temp dir)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (data set, backups, testhost log)")
	fs.BoolVar(&o.verbose, "v", false, "echo the testhost log to stderr")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.compare, "compare", "", "JSON of an earlier run (smaller data set): add rows checking peak RSS is not higher now")
	fs.BoolVar(&o.encrypt, "encrypt", false, "run the host with encryption at rest (compare with a run without it)")
	fs.StringVar(&o.pocketbase, "pocketbase", "", "PocketBase binary (make bench builds bin/tools/pocketbase): measure it on the same data set and add the rows against it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.createRuns < 1 {
		return o, fmt.Errorf("-create-pairs must be at least 1")
	}
	sizeGiven := false
	fs.Visit(func(f *flag.Flag) { sizeGiven = sizeGiven || f.Name == "size" })
	if quick && !sizeGiven {
		size = "64MiB"
	}
	var err error
	if o.size, err = parseSize(size); err != nil {
		return o, err
	}
	if o.files < 1 {
		return o, errors.New("-files must be at least 1")
	}
	return o, nil
}

// run measures everything, prints the table and returns the exit status.
func run(ctx context.Context, opts options, stdout, stderr io.Writer) int {
	b := &bench{
		opts: opts,
		rep:  &report{Machine: readMachine(), SizeBytes: opts.size, Started: time.Now(), LoadAtStart: loadAverage()},
		// Generous: a slow disk must give a slow figure, not a harness error.
		timeout: 10*time.Minute + time.Duration(opts.size/(1<<20))*time.Second,
	}
	err := b.run(ctx, stderr)
	b.rep.Seconds = time.Since(b.rep.Started).Seconds()
	if err != nil {
		b.rep.Broken = err.Error()
	}
	if opts.compare != "" {
		if cerr := b.rep.compareRSS(opts.compare); cerr != nil {
			b.rep.note("-compare: %v", cerr)
		}
	}
	b.rep.print(stdout)
	if opts.jsonOut != "" {
		if jerr := b.rep.writeJSON(opts.jsonOut); jerr != nil {
			fmt.Fprintln(stderr, "bench: write json:", jerr)
			return 1
		}
	}
	if err != nil {
		return 1
	}
	return 0
}

// settle flushes every dirty page and the filesystem journal (with the
// discards of deleted files) before a timed step, so that neither side pays
// for what the step before it wrote or deleted.
func settle() { syscall.Sync() }

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) run(ctx context.Context, stderr io.Writer) (err error) {
	for _, exe := range []string{"testhost", "plugins"} {
		if _, err := os.Stat(filepath.Join(b.opts.bin, exe)); err != nil {
			return fmt.Errorf("%w (run make build first)", err)
		}
	}
	if b.opts.pocketbase != "" {
		if _, err := os.Stat(b.opts.pocketbase); err != nil {
			return fmt.Errorf("-pocketbase: %w (make bench builds it)", err)
		}
	}
	bin, err := filepath.Abs(b.opts.bin)
	if err != nil {
		return err
	}
	if b.root, err = os.MkdirTemp(b.opts.tmp, "pocketbackup-bench-"); err != nil {
		return err
	}
	defer func() {
		if b.opts.keep || err != nil {
			b.progress("kept %s", b.root)
			return
		}
		err = errors.Join(err, os.RemoveAll(b.root))
	}()
	b.dataDir = filepath.Join(b.root, "pb_data")

	spec := newDataSpec(b.opts.size, b.opts.files, b.opts.seed)
	b.progress("generating %s data set in %s (seed %d)", formatSize(spec.Total), b.dataDir, spec.Seed)
	if b.data, err = generate(ctx, b.dataDir, spec); err != nil {
		return err
	}
	b.rep.DataBytes = b.data.Bytes
	settle()
	b.rep.note("data set: data.db %s (%d rows, WAL mode), auxiliary.db %s, storage/ %s in %d files (%.0f%% random bytes); generated in %.1f s",
		formatSize(b.data.DataDBBytes), b.data.Rows, formatSize(b.data.AuxDBBytes), formatSize(b.data.StorageBytes), b.data.Files,
		100*float64(b.data.RandomBytes)/float64(max(b.data.StorageBytes, 1)), b.data.Took.Seconds())

	if b.opts.pocketbase != "" {
		if err := b.copyForPocketBase(); err != nil {
			return err
		}
	}

	var echo io.Writer
	if b.opts.verbose {
		echo = stderr
	}
	b.progress("starting %s/testhost", bin)
	var keyFile string
	if b.opts.encrypt {
		if keyFile, err = writeKeyFile(b.root); err != nil {
			return err
		}
		b.keyFile = keyFile
		b.rep.note("encryption at rest: on (age X25519); the checks, baselines and upload use the plain zip downloaded through the API")
	}
	if b.h, err = startTesthost(ctx, bin, b.dataDir, filepath.Join(b.root, "testhost.log"), echo, keyFile); err != nil {
		return err
	}
	defer func() {
		if serr := b.h.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop testhost: %w", serr))
		}
	}()
	b.rss = newRSSSampler(b.h.pid())
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go b.rss.run(sampleCtx)
	b.rss.setPhase(phaseIdle)

	defer b.addRSSRows() // whatever was measured, even after an error
	defer b.addLoadNotes()
	if err := b.measureCreate(ctx); err != nil {
		return err
	}
	if err := b.measureDigestCost(ctx); err != nil {
		return err
	}
	if err := b.measureDownload(ctx); err != nil {
		return err
	}
	if err := b.measureUpload(ctx); err != nil {
		return err
	}
	if err := b.measureVerify(ctx); err != nil {
		return err
	}
	if err := b.measureRestore(ctx); err != nil {
		return err
	}
	if b.opts.pocketbase == "" {
		b.rep.note("vs PocketBase: rows left out, no -pocketbase binary given (make bench builds bin/tools/pocketbase and passes it; make test's smoke run does not, building PocketBase takes about 3 min on 2 cores)")
		return nil
	}
	// PocketBase runs alone: the host is stopped first.
	if err := b.h.stop(); err != nil {
		return fmt.Errorf("stop testhost: %w", err)
	}
	return b.measurePocketBase(ctx, echo)
}

// addLoadNotes reports the load other processes put on the machine.
func (b *bench) addLoadNotes() {
	b.rep.note("CPU used by other processes during each timed step (share of all %d CPUs; what the bench, host and plugin read from disk rather than the page cache; and the busiest disk: its share of the time with I/O in flight and its write rate): %s; load average at the start %s",
		b.rep.Machine.CPUs, strings.Join(b.loads, ", "), b.rep.LoadAtStart)
	if len(b.disturbed) > 0 {
		b.rep.note("WARNING: other processes used over 5%% of the CPUs during: %s. Those figures are disturbed; rerun on an idle machine.", strings.Join(b.disturbed, ", "))
	}
}

// addRSSRows adds the peak RSS of each process in each measured phase.
func (b *bench) addRSSRows() {
	var splits []string
	for _, proc := range []string{procHost, procPlugin} {
		for _, phase := range []string{phaseCreate, phaseUpload, phaseDownload, phaseVerify, phaseRestore} {
			if sp := b.rss.largestSample(phase, proc); sp.RSS > 0 {
				splits = append(splits, fmt.Sprintf("%s %s %s", proc, phase, sp))
			}
		}
	}
	defer b.rep.note("peak RSS, the largest VmRSS sample of each phase: %s", strings.Join(splits, "; "))
	for _, proc := range []string{procHost, procPlugin} {
		for _, phase := range []string{phaseCreate, phaseUpload, phaseDownload, phaseVerify, phaseRestore} {
			kib := b.rss.peak(phase, proc)
			if kib == 0 {
				continue
			}
			b.rep.add(atMostRow("rss."+proc+"."+phase, fmt.Sprintf("Peak RSS %s — %s", proc, phase), float64(kib)/1024, "MiB", rssLimitMiB))
		}
	}
	helperRestore, helpers := b.rss.helperStats(phaseRestore)
	b.rep.note("peak RSS: VmHWM (reset through /proc/PID/clear_refs at each phase start) and VmRSS sampled every 20 ms from /proc, host (PID %d, re-executed in place by the restore) and plugin (its child) separately; idle peaks: host %.1f MiB, plugin %.1f MiB; plugin processes seen: %d",
		b.rss.hostPID, float64(b.rss.peak(phaseIdle, procHost))/1024, float64(b.rss.peak(phaseIdle, procPlugin))/1024, b.rss.plugins())
	b.rep.note("peak RSS: the host's figures include its helper children (its own executable run again: the restore's database checker), each helper's VmHWM added to the host's sample; helpers seen: %d, their peak in the restore %.1f MiB",
		helpers, float64(helperRestore)/1024)
	if b.rss.resetErr != nil {
		b.rep.note("peak RSS: could not reset VmHWM (%v); peaks are VmRSS samples only", b.rss.resetErr)
	}
	b.rep.note("3 GiB check: `make bench BENCH_SIZE=1.5GiB BENCH_FLAGS=-json=small.json`, then `make bench BENCH_SIZE=3GiB BENCH_FLAGS=-compare=small.json` adds \"not higher\" rows")
}

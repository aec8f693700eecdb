package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1.5GiB": 1536 << 20,
		"64MiB":  64 << 20,
		"3GiB":   3 << 30,
		"512KiB": 512 << 10,
		"2GB":    2e9,
		"4096":   4096,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "1.5XB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestLogFields(t *testing.T) {
	// A plugin line as testhost's slog text handler writes it.
	line := `time=2026-12-06T09:14:02.117Z level=INFO msg="backup created" logger=host name=plugin.pocketbackup-plugin @module=pocketbackup-plugin bytes_out=3.5067136e+07 files=2002 key=bench.zip seconds=0.338737295`
	if v, ok := logFloat(line, "seconds"); !ok || v != 0.338737295 {
		t.Errorf("seconds = %v, %v", v, ok)
	}
	if v, ok := logFloat(line, "bytes_out"); !ok || v != 35067136 {
		t.Errorf("bytes_out = %v, %v", v, ok)
	}
	if _, ok := logFloat(line, "missing"); ok {
		t.Error("missing field found")
	}
}

func TestIsPrefix(t *testing.T) {
	if ok, _ := isPrefix([]int{3, 1, 2}); !ok {
		t.Error("1..3 shuffled is a prefix")
	}
	if ok, _ := isPrefix(nil); !ok {
		t.Error("no rows is a prefix")
	}
	for _, seqs := range [][]int{{1, 3}, {2}, {1, 1, 2}} {
		if ok, _ := isPrefix(seqs); ok {
			t.Errorf("%v is not a prefix", seqs)
		}
	}
}

func TestDowntime(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int, ok bool) upSample {
		return upSample{at: t0.Add(time.Duration(ms) * time.Millisecond), ok: ok}
	}
	d, ok := downtime([]upSample{at(0, true), at(10, true), at(20, false), at(30, false), at(45, true), at(55, true)})
	if !ok || d != 35*time.Millisecond {
		t.Errorf("downtime = %v, %v; want 35ms", d, ok)
	}
	// A request held across the re-exec, never refused.
	if d, ok := downtime([]upSample{at(0, true), at(10, true), at(250, true), at(260, true)}); !ok || d != 240*time.Millisecond {
		t.Errorf("held request: downtime = %v, %v; want 240ms", d, ok)
	}
	if _, ok := downtime([]upSample{at(0, true), at(10, true), at(20, false)}); ok {
		t.Error("never came back, yet a downtime")
	}
	if _, ok := downtime([]upSample{at(0, true), at(10, false)}); ok {
		t.Error("never back, yet a downtime")
	}
}

func TestPlanStorage(t *testing.T) {
	spec := newDataSpec(96<<20, 500, 7)
	files := planStorage("/x", spec)
	var total, random int64
	for _, f := range files {
		total += f.size
		if f.random {
			random += f.size
		}
	}
	if len(files) != 500 || total != spec.Storage {
		t.Fatalf("%d files, %d bytes; want 500, %d", len(files), total, spec.Storage)
	}
	if share := float64(random) / float64(total); share < randomShare || share > randomShare+0.1 {
		t.Errorf("random share %.2f", share)
	}
	again := planStorage("/x", spec)
	for i := range files {
		if files[i] != again[i] {
			t.Fatalf("plan is not deterministic at %d", i)
		}
	}
}

func TestTextGen(t *testing.T) {
	a := newTextGen(rand.New(rand.NewPCG(1, 2))).appendText(nil, 5000)
	b := newTextGen(rand.New(rand.NewPCG(1, 2))).appendText(nil, 5000)
	if len(a) != 5000 || !bytes.Equal(a, b) {
		t.Fatalf("text: %d bytes, deterministic %v", len(a), bytes.Equal(a, b))
	}
	if !strings.Contains(string(a), ". ") {
		t.Error("no sentences")
	}
}

// TestQuickSmoke runs the whole harness on a small data set against the
// built binaries. It takes ~10 s and needs `make build`, so it only runs
// with BENCH_SMOKE=1, which make test sets (BENCH_BIN: the bin directory,
// default ../bin; BENCH_POCKETBASE: PocketBase's binary, to add its rows).
func TestQuickSmoke(t *testing.T) {
	t.Parallel() // the two runs wait on disks and processes more than on the CPU
	quickSmoke(t, nil, nil)
}

// TestQuickSmokeEncrypted: the same run with encryption at rest.
func TestQuickSmokeEncrypted(t *testing.T) {
	t.Parallel()
	quickSmoke(t, []string{"-encrypt"}, []string{"Create: stored as an age file"})
}

func quickSmoke(t *testing.T, flags, rows []string) {
	if os.Getenv("BENCH_SMOKE") != "1" {
		t.Skip("set BENCH_SMOKE=1 (after make build) to run the harness on a small data set")
	}
	bin := os.Getenv("BENCH_BIN")
	if bin == "" {
		bin = "../bin"
	}
	// PocketBase is left out unless BENCH_POCKETBASE names its binary:
	// make test does not build it (about 3 minutes on 2 cores); make bench does.
	rows = append(rows, "vs PocketBase: rows left out")
	if pb := os.Getenv("BENCH_POCKETBASE"); pb != "" {
		flags = append(flags, "-pocketbase="+pb)
		rows = append(rows[:len(rows)-1], "vs PocketBase: create, POST → listed", "vs PocketBase: restore, POST → serving the backup's data", "vs PocketBase: upload (same zip)")
	} else {
		t.Log("PocketBase rows left out: BENCH_POCKETBASE not set (make bench builds bin/tools/pocketbase; make test does not, it takes about 3 minutes on 2 cores)")
	}
	// One create pair: the smoke shows the harness works, not figures (and
	// under -race a stdlib baseline create takes most of the run).
	opts, err := parseFlags(append([]string{"-quick", "-create-pairs=1", "-bin=" + bin, "-tmp=" + t.TempDir()}, flags...))
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), opts, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, want := range append([]string{"Create throughput", "Peak RSS plugin — restore", "Restore: app serves the backup's rows", "Quick verify read vs restore staging", "Peak RSS plugin — verify", "Create: cost of the SHA-256 digest", "create digest: hashing"}, rows...) {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q row in\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}

func TestBusiestDisk(t *testing.T) {
	before := map[string]diskStat{"vda": {sectorsWritten: 1000, busyMillis: 500}, "vdb": {sectorsWritten: 0, busyMillis: 100}}
	after := map[string]diskStat{"vda": {sectorsWritten: 1000 + 2_000_000, busyMillis: 500 + 1900}, "vdb": {sectorsWritten: 10, busyMillis: 200}}
	if got, want := busiestDisk(before, after, 2), "; disk vda 95% busy, writing 512 MB/s"; got != want {
		t.Fatalf("busiestDisk = %q, want %q", got, want)
	}
	if got := busiestDisk(before, nil, 2); got != "" {
		t.Fatalf("no disks: %q", got)
	}
}

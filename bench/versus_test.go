package main

import (
	"testing"
	"time"
)

// TestVersusRows feeds the issue's first table (PocketBase v0.36.8 against
// this project at 308 MiB) through the comparison rows: the ratios must be
// "times better than PocketBase" whichever way each figure improves, and
// the verdicts the issue's targets.
func TestVersusRows(t *testing.T) {
	pb := sideFigures{CreateSecs: 6.08, WorstInsert: 5402 * time.Millisecond, RestoreSecs: 4.12, DownSecs: 0.79, DownOK: true, UploadMiBps: 96, DownloadMiBps: 1370}
	issue := sideFigures{CreateSecs: 1.21, WorstInsert: 72 * time.Millisecond, RestoreSecs: 2.71, DownSecs: 0.70, DownOK: true, UploadMiBps: 172, DownloadMiBps: 1243}
	want := map[string]struct{ ours, base, ratio, verdict string }{
		"pb.create":   {"1.21 s", "6.08 s", "5.02×", pass},
		"pb.insert":   {"72.0 ms", "5402 ms", "75.03×", pass},
		"pb.restore":  {"2.71 s", "4.12 s", "1.52×", fail},
		"pb.downtime": {"0.70 s", "0.79 s", "1.13×", fail},
		"pb.upload":   {"172 MiB/s", "96.0 MiB/s", "1.79×", fail},
		"pb.download": {"1243 MiB/s", "1370 MiB/s", "0.91×", info},
	}
	checkVersus(t, versusRows(issue, pb), want)

	// The targets met: restore 3×, downtime 0.3 s, upload 4×; a create
	// under 5× and an insert over 100 ms fail.
	met := sideFigures{CreateSecs: 1.3, WorstInsert: 101 * time.Millisecond, RestoreSecs: 1.3, DownSecs: 0.09, DownOK: true, UploadMiBps: 400, DownloadMiBps: 1370}
	want = map[string]struct{ ours, base, ratio, verdict string }{
		"pb.create":   {"1.30 s", "6.08 s", "4.68×", fail},
		"pb.insert":   {"101 ms", "5402 ms", "53.49×", fail},
		"pb.restore":  {"1.30 s", "4.12 s", "3.17×", pass},
		"pb.downtime": {"0.09 s", "0.79 s", "8.78×", pass},
		"pb.upload":   {"400 MiB/s", "96.0 MiB/s", "4.17×", pass},
		"pb.download": {"1370 MiB/s", "1370 MiB/s", "1.00×", info},
	}
	checkVersus(t, versusRows(met, pb), want)

	// A downtime not seen on one side is shown, not judged.
	met.DownOK = false
	for _, x := range versusRows(met, pb) {
		if x.Key == "pb.downtime" && (x.Verdict != info || x.Ours != "never down?" || x.Baseline != "0.79 s") {
			t.Errorf("downtime not seen: %+v", x)
		}
	}
}

func checkVersus(t *testing.T, rows []row, want map[string]struct{ ours, base, ratio, verdict string }) {
	t.Helper()
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rows), len(want))
	}
	for _, x := range rows {
		w, ok := want[x.Key]
		if !ok {
			t.Errorf("unexpected row %q", x.Key)
			continue
		}
		if x.Ours != w.ours || x.Baseline != w.base || x.Ratio != w.ratio || x.Verdict != w.verdict {
			t.Errorf("%s: ours %q, PocketBase %q, ratio %q, %s; want %q, %q, %q, %s", x.Key, x.Ours, x.Baseline, x.Ratio, x.Verdict, w.ours, w.base, w.ratio, w.verdict)
		}
	}
}

package main

import (
	"fmt"
	"time"
)

// Targets against PocketBase (issue 20), each measured the same way on
// both apps in the same run.
const (
	createVsPB  = 5 // create, POST → listed: at least this many times faster
	restoreVsPB = 3 // restore, POST → serving the backup's data
	uploadVsPB  = 4 // upload of the same zip, POST → 204
)

// versusRows compares the host's figures with PocketBase's: the
// PocketBase figure in the baseline column, the ratio always "how many
// times better than PocketBase" (its time over ours, or our rate over its).
func versusRows(ours, pb sideFigures) []row {
	rows := []row{
		fasterRow("pb.create", "vs PocketBase: create, POST → listed", ours.CreateSecs, pb.CreateSecs, createVsPB),
		limitVsRow("pb.insert", "vs PocketBase: worst insert during create",
			ms(ours.WorstInsert), ms(pb.WorstInsert), "ms", float64(stallLimit.Milliseconds())),
		fasterRow("pb.restore", "vs PocketBase: restore, POST → serving the backup's data", ours.RestoreSecs, pb.RestoreSecs, restoreVsPB),
	}
	if ours.DownOK && pb.DownOK {
		rows = append(rows, limitVsRow("pb.downtime", "vs PocketBase: API down during restore", ours.DownSecs, pb.DownSecs, "s", downtimeLimit.Seconds()))
	} else {
		rows = append(rows, infoRow("pb.downtime", "vs PocketBase: API down during restore", downText(ours), downText(pb)))
	}
	rows = append(rows, ratioRow("pb.upload", "vs PocketBase: upload (same zip)", ours.UploadMiBps, pb.UploadMiBps, "MiB/s", uploadVsPB))
	dl := ratioRow("pb.download", "vs PocketBase: download (same zip)", ours.DownloadMiBps, pb.DownloadMiBps, "MiB/s", 0)
	dl.Target, dl.Verdict = "—", info
	return append(rows, dl)
}

// fasterRow: ours and base are times (lower is better); passes when
// base/ours ≥ minRatio.
func fasterRow(key, figure string, ours, base, minRatio float64) row {
	ratio := 0.0
	if ours > 0 {
		ratio = base / ours
	}
	return row{Key: key, Figure: figure, Ours: num(ours) + " s", Baseline: num(base) + " s",
		Ratio: fmt.Sprintf("%.2f×", ratio), Target: fmt.Sprintf("≥ %g×", minRatio),
		Verdict: verdict(ours > 0 && ratio >= minRatio), Value: ours, Base: base}
}

// limitVsRow: ours must stay ≤ limit; base is shown beside it, with how
// many times lower ours is.
func limitVsRow(key, figure string, ours, base float64, unit string, limit float64) row {
	ratio := "—"
	if ours > 0 {
		ratio = fmt.Sprintf("%.2f×", base/ours)
	}
	return row{Key: key, Figure: figure, Ours: num(ours) + " " + unit, Baseline: num(base) + " " + unit,
		Ratio: ratio, Target: fmt.Sprintf("≤ %s %s", num(limit), unit), Verdict: verdict(ours <= limit), Value: ours, Base: base}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func downText(f sideFigures) string {
	if !f.DownOK {
		return "never down?"
	}
	return num(f.DownSecs) + " s"
}

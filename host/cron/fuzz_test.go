package cron_test

import (
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/cron"
)

// FuzzParse feeds arbitrary expressions and times to Parse and Next. Parse
// must not panic; when it accepts an expression, Next(t) must be a UTC
// minute strictly after t that the schedule matches, with no matching
// minute between t and it (checked over the first hours).
func FuzzParse(f *testing.F) {
	f.Add("*/5 * * * *", int64(1767225600))
	f.Add("0 0 29 2 *", int64(4078771200))
	f.Fuzz(func(t *testing.T, expr string, sec int64) {
		s, err := cron.Parse(expr)
		if err != nil {
			if s.String() != "" || !s.Next(time.Unix(0, 0)).IsZero() {
				t.Fatalf("Parse(%q) failed (%v) but returned a usable schedule", expr, err)
			}
			return
		}
		// Times between 1970 and about 2500, seconds and all.
		after := time.Unix(0, 0).Add(time.Duration(uint64(sec)%(530*365*24*3600)) * time.Second).UTC()
		next := s.Next(after)
		switch {
		case next.IsZero():
			t.Fatalf("%q: Next(%v) is zero", expr, after)
		case !next.After(after):
			t.Fatalf("%q: Next(%v) = %v, not after", expr, after, next)
		case next.Location() != time.UTC || next.Second() != 0 || next.Nanosecond() != 0:
			t.Fatalf("%q: Next(%v) = %v, not a UTC minute", expr, after, next)
		case !s.Matches(next):
			t.Fatalf("%q: Next(%v) = %v, which the schedule does not match", expr, after, next)
		}
		for m := after.Truncate(time.Minute).Add(time.Minute); m.Before(next) && m.Sub(after) < 6*time.Hour; m = m.Add(time.Minute) {
			if s.Matches(m) {
				t.Fatalf("%q: Next(%v) = %v, but %v matches before", expr, after, next, m)
			}
		}
	})
}

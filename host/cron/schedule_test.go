package cron_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/cron"
)

// at parses a UTC time "2006-01-02 15:04" or "2006-01-02 15:04:05.000".
func at(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05.000"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

func TestParseValid(t *testing.T) {
	for _, expr := range []string{
		"* * * * *",
		"0 0 * * *",
		"*/5 * * * *",
		"0-59/15 0-23 1-31 1-12 0-7",
		"5/15 * * * *",
		"1,2,3-5,10-20/5 * * * *",
		"00 05 01 01 00",
		"59 23 31 12 7",
		"  0   0  *  *  *  ",
		"0\t0\t*\t*\t*",
		"0 0 29 2 *",
		"0 0 31 1-12 *",
		"0 0 30 2 1", // never on Feb 30, but on Mondays of February
		"*/59 */23 */31 */12 */7",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@DAILY", " @hourly ",
	} {
		t.Run(expr, func(t *testing.T) {
			s, err := cron.Parse(expr)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got, want := s.String(), strings.TrimSpace(expr); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if s.Next(at(t, "2026-01-01 00:00")).IsZero() {
				t.Error("Next is zero")
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		expr, field, value, reason string
	}{
		{"", "", "", "want 5 fields"},
		{"   ", "", "", "want 5 fields"},
		{"* * * *", "", "", "got 4"},
		{"* * * * * *", "", "", "got 6"},
		{"@reboot", "", "", "unknown macro"},
		{"@every 5m", "", "", "unknown macro"},
		{"60 * * * *", "minute", "60", "value 60 out of range 0-59"},
		{"* 24 * * *", "hour", "24", "value 24 out of range 0-23"},
		{"* * 0 * *", "day-of-month", "0", "value 0 out of range 1-31"},
		{"* * 32 * *", "day-of-month", "32", "out of range 1-31"},
		{"* * * 0 *", "month", "0", "out of range 1-12"},
		{"* * * 13 *", "month", "13", "out of range 1-12"},
		{"* * * * 8", "day-of-week", "8", "out of range 0-7"},
		{"*/0 * * * *", "minute", "*/0", "step 0 out of range 1-59"},
		{"*/60 * * * *", "minute", "*/60", "step 60 out of range"},
		{"5-1 * * * *", "minute", "5-1", "range 5-1 is backwards"},
		{"a * * * *", "minute", "a", `value "a": not a number`},
		{"-1 * * * *", "minute", "-1", `value "": missing number`},
		{"+1 * * * *", "minute", "+1", "not a number"},
		{"1,,2 * * * *", "minute", "1,,2", "empty item"},
		{"1, * * * *", "minute", "1,", "empty item"},
		{"1-2-3 * * * *", "minute", "1-2-3", "not a number"},
		{"*/5/2 * * * *", "minute", "*/5/2", "not a number"},
		{"1/ * * * *", "minute", "1/", "missing number"},
		{"*-5 * * * *", "minute", "*-5", "not a number"},
		{"99999999999999999999 * * * *", "minute", "99999999999999999999", "too large"},
		{"* * * * MON", "day-of-week", "MON", "not a number"},
		{"* * * JAN *", "month", "JAN", "not a number"},
		{"? * * * *", "minute", "?", "not a number"},
		{"0 0 30 2 *", "day-of-month", "30", "never occurs"},
		{"0 0 31 4,6,9,11 *", "day-of-month", "31", "never occurs"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := cron.Parse(tc.expr)
			var pe *cron.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, %v; want a *ParseError", s, err)
			}
			if pe.Expr != tc.expr || pe.Field != tc.field || pe.Value != tc.value || !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("error %+v; want field %q, value %q, reason containing %q", *pe, tc.field, tc.value, tc.reason)
			}
			if tc.field != "" && !strings.Contains(err.Error(), tc.field+` "`+tc.value+`"`) {
				t.Errorf("message %q does not name the field and value", err)
			}
		})
	}
}

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		expr, after string
		want        []string // successive results, each from the one before
	}{
		{"* * * * *", "2026-01-01 10:00", []string{"2026-01-01 10:01", "2026-01-01 10:02"}},
		{"* * * * *", "2026-01-01 10:00:00.001", []string{"2026-01-01 10:01"}},
		{"* * * * *", "2026-01-01 10:00:59.999", []string{"2026-01-01 10:01"}},
		{"* * * * *", "2026-12-31 23:59", []string{"2027-01-01 00:00"}},
		{"*/5 * * * *", "2026-01-01 10:03", []string{"2026-01-01 10:05", "2026-01-01 10:10"}},
		{"*/5 * * * *", "2026-01-01 10:55:30.000", []string{"2026-01-01 11:00"}},
		{"10-20/5 * * * *", "2026-01-01 10:00", []string{"2026-01-01 10:10", "2026-01-01 10:15", "2026-01-01 10:20", "2026-01-01 11:10"}},
		{"5/20 * * * *", "2026-01-01 10:00", []string{"2026-01-01 10:05", "2026-01-01 10:25", "2026-01-01 10:45", "2026-01-01 11:05"}},
		{"0 */6 * * *", "2026-01-01 07:00", []string{"2026-01-01 12:00", "2026-01-01 18:00", "2026-01-02 00:00"}},
		{"30 2 * * *", "2026-01-01 02:30", []string{"2026-01-02 02:30"}},
		{"0,30 9-10 * * *", "2026-01-01 09:45", []string{"2026-01-01 10:00", "2026-01-01 10:30", "2026-01-02 09:00"}},
		{"@hourly", "2026-01-01 10:00", []string{"2026-01-01 11:00", "2026-01-01 12:00"}},
		{"@hourly", "2026-01-01 23:59:59.999", []string{"2026-01-02 00:00"}},
		{"@daily", "2026-02-28 00:00", []string{"2026-03-01 00:00"}},
		{"@midnight", "2028-02-28 13:00", []string{"2028-02-29 00:00"}},
		{"@weekly", "2026-01-01 00:00", []string{"2026-01-04 00:00", "2026-01-11 00:00"}}, // Sundays
		{"@monthly", "2026-01-31 12:00", []string{"2026-02-01 00:00", "2026-03-01 00:00"}},
		{"@yearly", "2026-06-01 00:00", []string{"2027-01-01 00:00", "2028-01-01 00:00"}},
		{"@annually", "2026-12-31 23:59", []string{"2027-01-01 00:00"}},
		// Month ends.
		{"0 0 31 * *", "2026-01-31 00:00", []string{"2026-03-31 00:00", "2026-05-31 00:00", "2026-07-31 00:00", "2026-08-31 00:00"}},
		{"0 12 30 * *", "2026-01-30 12:00", []string{"2026-03-30 12:00", "2026-04-30 12:00"}},
		{"59 23 31 12 *", "2026-12-31 23:59", []string{"2027-12-31 23:59"}},
		{"0 0 28-31 2 *", "2027-02-27 00:00", []string{"2027-02-28 00:00", "2028-02-28 00:00", "2028-02-29 00:00", "2029-02-28 00:00"}},
		// Leap years: 2100 is not one.
		{"0 0 29 2 *", "2026-03-01 00:00", []string{"2028-02-29 00:00", "2032-02-29 00:00"}},
		{"0 0 29 2 *", "2028-02-29 00:00", []string{"2032-02-29 00:00"}},
		{"0 0 29 2 *", "2096-03-01 00:00", []string{"2104-02-29 00:00"}},
		// Day of week: 0 and 7 are Sunday; 2026-01-01 is a Thursday.
		{"0 0 * * 0", "2026-01-01 00:00", []string{"2026-01-04 00:00"}},
		{"0 0 * * 7", "2026-01-01 00:00", []string{"2026-01-04 00:00"}},
		{"0 0 * * 5-7", "2026-01-01 00:00", []string{"2026-01-02 00:00", "2026-01-03 00:00", "2026-01-04 00:00", "2026-01-09 00:00"}},
		{"0 0 * * 1-5", "2026-01-02 00:00", []string{"2026-01-05 00:00"}},
		// Both days restricted: either matches (the 13th or a Friday).
		{"0 0 13 * 5", "2026-01-01 00:00", []string{"2026-01-02 00:00", "2026-01-09 00:00", "2026-01-13 00:00", "2026-01-16 00:00"}},
		{"0 0 1 * 1", "2026-01-27 00:00", []string{"2026-02-01 00:00", "2026-02-02 00:00"}},
		{"0 0 1-31 * 1", "2026-01-01 00:00", []string{"2026-01-02 00:00"}}, // 1-31 is restricted, and every day
		{"0 0 30 2 1", "2026-01-27 00:00", []string{"2026-02-02 00:00", "2026-02-09 00:00"}},
		// A field starting with '*' is unrestricted: both must match
		// (Mondays on odd days; 2026-01-05 is a Monday).
		{"0 0 */2 * 1", "2026-01-01 00:00", []string{"2026-01-05 00:00", "2026-01-19 00:00"}},
		{"0 0 13 * *", "2026-01-13 00:00", []string{"2026-02-13 00:00"}},
		{"0 0 13 * */1", "2026-01-13 00:00", []string{"2026-02-13 00:00"}},
		// January 1 is a Monday in 2091 and next in 2103.
		{"0 0 */31 1 1", "2091-01-01 00:00", []string{"2103-01-01 00:00"}},
	} {
		t.Run(tc.expr+" after "+tc.after, func(t *testing.T) {
			s, err := cron.Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			prev := at(t, tc.after)
			for _, w := range tc.want {
				got := s.Next(prev)
				if want := at(t, w); !got.Equal(want) || got.Location() != time.UTC {
					t.Fatalf("Next(%v) = %v, want %v", prev, got, want)
				}
				if !s.Matches(got) {
					t.Errorf("Matches(%v) = false", got)
				}
				prev = got
			}
		})
	}
}

func TestNextConvertsToUTC(t *testing.T) {
	s, err := cron.Parse("@daily")
	if err != nil {
		t.Fatal(err)
	}
	cet := time.FixedZone("CET", 3600)
	got := s.Next(time.Date(2026, 1, 1, 0, 30, 0, 0, cet)) // 2025-12-31 23:30 UTC
	if want := at(t, "2026-01-01 00:00"); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Next = %v, want %v", got, want)
	}
}

func TestNextZeroSchedule(t *testing.T) {
	var s cron.Schedule
	if got := s.Next(at(t, "2026-01-01 00:00")); !got.IsZero() {
		t.Errorf("Next = %v, want the zero time", got)
	}
	if s.Matches(at(t, "2026-01-01 00:00")) {
		t.Error("the zero Schedule matches")
	}
}

// TestNextAgreesWithMatches compares Next with a minute-by-minute scan
// over Matches for a spread of expressions and starting times.
func TestNextAgreesWithMatches(t *testing.T) {
	exprs := []string{
		"*/7 * * * *", "13 */5 * * *", "0 0 31 * *", "0 12 * * 0,6", "0 0 13 * 5", "0 0 */2 * 1",
		"15 3 1-7 * 1", "0 0 29 2 *", "45 23 * 12 *", "0-10/3 1,13 10-20 * 2-4",
	}
	starts := []string{"2026-01-01 00:00", "2026-02-27 23:58", "2027-12-31 23:59:30.000", "2028-02-28 12:00"}
	const horizon = 62 * 24 * 60 // minutes scanned
	for _, expr := range exprs {
		s, err := cron.Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range starts {
			start := at(t, st)
			want := time.Time{}
			for m := start.Truncate(time.Minute).Add(time.Minute); m.Before(start.Add(horizon * time.Minute)); m = m.Add(time.Minute) {
				if s.Matches(m) {
					want = m
					break
				}
			}
			if want.IsZero() {
				continue // beyond the scan; covered by TestNext
			}
			if got := s.Next(start); !got.Equal(want) {
				t.Errorf("%q: Next(%v) = %v, the scan finds %v", expr, start, got, want)
			}
		}
	}
}

func BenchmarkNextLeapDay(b *testing.B) {
	s, err := cron.Parse("0 0 29 2 *")
	if err != nil {
		b.Fatal(err)
	}
	after := at(b, "2096-03-01 00:00")
	for b.Loop() {
		s.Next(after)
	}
}

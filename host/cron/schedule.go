// Package cron runs jobs on cron schedules, the way PocketBase's scheduler
// does: standard 5-field expressions and the @daily-style macros, all in
// UTC, checked once a minute by a Scheduler whose clock tests can replace.
package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// ParseError describes an expression Parse refuses.
type ParseError struct {
	Expr   string // the whole expression
	Field  string // "minute", "hour", "day-of-month", "month" or "day-of-week"; empty when the expression as a whole is wrong
	Value  string // the text of the field (empty when Field is)
	Reason string // what is wrong, e.g. "out of range 0-59"
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cron expression %q: %s", e.Expr, e.Reason)
	}
	return fmt.Sprintf("cron expression %q: %s %q: %s", e.Expr, e.Field, e.Value, e.Reason)
}

// field describes one of the five fields.
type field struct {
	name     string
	min, max int // values accepted in the expression
}

var fields = [5]field{
	{"minute", 0, 59},
	{"hour", 0, 23},
	{"day-of-month", 1, 31},
	{"month", 1, 12},
	{"day-of-week", 0, 7}, // 7 is Sunday too
}

const dowField = 4

// macros are the @-expressions Parse accepts and what they stand for.
var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Schedule is a parsed cron expression. Its zero value never matches. It
// is a value: safe to copy and to use from several goroutines.
type Schedule struct {
	expr                        string
	minute, hour, dom, mon, dow uint64 // bit i set: value i matches (dow: 0-6, Sunday 0)
	domStar, dowStar            bool   // the field starts with '*'
}

// Parse parses a cron expression: five fields separated by spaces
//
//	minute(0-59) hour(0-23) day-of-month(1-31) month(1-12) day-of-week(0-7, 0 and 7 are Sunday)
//
// each a comma-separated list of items: '*', a number, a range "a-b", or
// one of those followed by a step "/n" ("*/15", "0-30/10"; "a/n" means
// a up to the field's maximum in steps of n). Or one of the macros @yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly. Times are UTC.
// Month and day names are not accepted.
//
// As in Vixie cron, a day matches when day-of-month or day-of-week does if
// both fields are restricted, i.e. neither starts with '*'; otherwise both
// must match ("0 0 13 * 5" runs on the 13th and on Fridays, "0 0 */2 * 5" on
// Fridays with an odd day of month).
//
// The error is a *ParseError naming the field and value at fault. An
// expression that can never match (like "0 0 30 2 *") is refused too.
func Parse(expr string) (Schedule, error) {
	spec := strings.TrimSpace(expr)
	if strings.HasPrefix(spec, "@") {
		m, ok := macros[strings.ToLower(spec)]
		if !ok {
			return Schedule{}, &ParseError{Expr: expr, Reason: "unknown macro (want @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)"}
		}
		return parseFields(expr, spec, m)
	}
	return parseFields(expr, spec, spec)
}

// parseFields parses the five fields of fieldsText; spec is what String
// returns, expr what errors quote.
func parseFields(expr, spec, fieldsText string) (Schedule, error) {
	parts := strings.Fields(fieldsText)
	if len(parts) != len(fields) {
		return Schedule{}, &ParseError{Expr: expr,
			Reason: fmt.Sprintf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(parts))}
	}
	var masks [5]uint64
	for i, p := range parts {
		m, err := parseField(fields[i], p)
		if err != nil {
			return Schedule{}, &ParseError{Expr: expr, Field: fields[i].name, Value: p, Reason: err.Error()}
		}
		masks[i] = m
	}
	if masks[dowField]&(1<<7) != 0 { // 7 is Sunday
		masks[dowField] = masks[dowField]&^(1<<7) | 1
	}
	s := Schedule{
		expr:   spec,
		minute: masks[0], hour: masks[1], dom: masks[2], mon: masks[3], dow: masks[dowField],
		domStar: strings.HasPrefix(parts[2], "*"),
		dowStar: strings.HasPrefix(parts[dowField], "*"),
	}
	if !s.domStar && s.dowStar && !s.someMonthHasDay() {
		return Schedule{}, &ParseError{Expr: expr, Field: fields[2].name, Value: parts[2],
			Reason: "never occurs in month(s) " + parts[3]}
	}
	return s, nil
}

// someMonthHasDay reports whether some month of s has one of its days of
// month (February counting 29 days).
func (s Schedule) someMonthHasDay() bool {
	firstDay := bits.TrailingZeros64(s.dom)
	for m := 1; m <= 12; m++ {
		if s.mon&(1<<m) != 0 && firstDay <= daysIn(time.Month(m), 2000) {
			return true
		}
	}
	return false
}

// parseField returns the values of one field as a bit mask.
func parseField(f field, s string) (uint64, error) {
	var mask uint64
	for item := range strings.SplitSeq(s, ",") {
		m, err := parseItem(f, item)
		if err != nil {
			return 0, err
		}
		mask |= m
	}
	return mask, nil
}

// parseItem parses "*", "n", "a-b", each optionally followed by "/step".
func parseItem(f field, item string) (uint64, error) {
	if item == "" {
		return 0, fmt.Errorf("empty item in list")
	}
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := number(stepText)
		if err != nil {
			return 0, fmt.Errorf("step %q: %w", stepText, err)
		}
		if n < 1 || n > f.max {
			return 0, fmt.Errorf("step %d out of range 1-%d", n, f.max)
		}
		step = n
	}
	var lo, hi int
	switch {
	case rng == "*":
		lo, hi = f.min, f.max
		if f.name == fields[dowField].name {
			hi = 6 // 7 would repeat Sunday
		}
	default:
		loText, hiText, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = value(f, loText); err != nil {
			return 0, err
		}
		switch {
		case isRange:
			if hi, err = value(f, hiText); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("range %d-%d is backwards", lo, hi)
			}
		case hasStep:
			hi = f.max // "a/n": from a to the maximum
		default:
			hi = lo
		}
	}
	var mask uint64
	for v := lo; v <= hi; v += step {
		mask |= 1 << v
	}
	return mask, nil
}

// value parses a number of field f.
func value(f field, s string) (int, error) {
	n, err := number(s)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", s, err)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("value %d out of range %d-%d", n, f.min, f.max)
	}
	return n, nil
}

// number parses a non-empty string of ASCII digits.
func number(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a number")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("number too large")
	}
	return n, nil
}

// String returns the expression s was parsed from, trimmed.
func (s Schedule) String() string { return s.expr }

// Matches reports whether the minute of t (in UTC) is one of s's.
func (s Schedule) Matches(t time.Time) bool {
	t = t.UTC()
	return s.mon&(1<<int(t.Month())) != 0 && s.dayMatches(t) &&
		s.hour&(1<<t.Hour()) != 0 && s.minute&(1<<t.Minute()) != 0
}

// dayMatches applies the day-of-month/day-of-week rule to t's date.
func (s Schedule) dayMatches(t time.Time) bool {
	domOK := s.dom&(1<<t.Day()) != 0
	dowOK := s.dow&(1<<int(t.Weekday())) != 0
	if !s.domStar && !s.dowStar {
		return domOK || dowOK
	}
	return domOK && dowOK
}

// searchYears bounds Next's search. Every schedule Parse accepts matches at
// least once in any 12 years: February 29 comes back within 8 (2096 to
// 2104), and a day-of-month '*' field always holds day 1, which falls on a
// given weekday of a given month within 12 (January 1 is a Monday in 2091
// and next in 2103).
const searchYears = 16

// Next returns the first minute matching s strictly after after, in UTC
// with zero seconds; the zero time for the zero Schedule. It skips whole
// months, days and hours that cannot match, so it costs at most a few
// hundred steps even when the answer is years away.
func (s Schedule) Next(after time.Time) time.Time {
	if s.minute == 0 || s.hour == 0 || s.dom == 0 || s.mon == 0 || s.dow == 0 {
		return time.Time{}
	}
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.Year() + searchYears
	for t.Year() <= limit {
		y, mo, d := t.Date()
		switch {
		case s.mon&(1<<int(mo)) == 0:
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
		case !s.dayMatches(t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		default:
			h, ok := nextBit(s.hour, t.Hour())
			if !ok {
				t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
				continue
			}
			if h != t.Hour() {
				t = time.Date(y, mo, d, h, 0, 0, 0, time.UTC)
			}
			m, ok := nextBit(s.minute, t.Minute())
			if !ok {
				t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
				continue
			}
			return time.Date(y, mo, d, h, m, 0, 0, time.UTC)
		}
	}
	return time.Time{}
}

// nextBit returns the lowest set bit of mask at or above from.
func nextBit(mask uint64, from int) (int, bool) {
	rest := mask >> from << from
	if rest == 0 {
		return 0, false
	}
	return bits.TrailingZeros64(rest), true
}

// daysIn returns the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

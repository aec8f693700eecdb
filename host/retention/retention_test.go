package retention

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// series makes one backup per time, keyed by its time.
func series(times ...string) []Backup {
	out := make([]Backup, 0, len(times))
	for _, s := range times {
		out = append(out, Backup{Key: s, Time: at(s)})
	}
	return out
}

func keys(bs []Backup) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Key)
	}
	return strings.Join(out, ",")
}

func TestApply(t *testing.T) {
	// Two backups a day, 2026-01-01 .. 2026-03-10 (Thursday 1 January).
	var twiceDaily []string
	for d := at("2026-01-01 00:00"); d.Before(at("2026-03-11 00:00")); d = d.AddDate(0, 0, 1) {
		twiceDaily = append(twiceDaily, d.Add(3*time.Hour).Format("2006-01-02 15:04"), d.Add(15*time.Hour).Format("2006-01-02 15:04"))
	}
	for _, tc := range []struct {
		name       string
		p          Policy
		in         []Backup
		keep, drop string
	}{
		{"empty policy keeps nothing", Policy{}, series("2026-01-01 00:00"), "", "2026-01-01 00:00"},
		{"no backups", Policy{Last: 3}, nil, "", ""},
		{"last 2", Policy{Last: 2}, series("2026-01-01 00:00", "2026-01-03 00:00", "2026-01-02 00:00"),
			"2026-01-03 00:00,2026-01-02 00:00", "2026-01-01 00:00"},
		{"daily keeps the newest of each day", Policy{Daily: 2},
			series("2026-01-01 10:00", "2026-01-01 20:00", "2026-01-02 01:00", "2026-01-02 23:59", "2026-01-03 00:00"),
			"2026-01-03 00:00,2026-01-02 23:59", "2026-01-02 01:00,2026-01-01 20:00,2026-01-01 10:00"},
		{"daily counts days that have a backup, not calendar days", Policy{Daily: 2},
			series("2026-01-01 10:00", "2026-01-10 10:00", "2026-01-20 10:00"),
			"2026-01-20 10:00,2026-01-10 10:00", "2026-01-01 10:00"},
		{"weekly uses ISO weeks (Monday start)", Policy{Weekly: 2},
			// Sun 4 Jan ends ISO week 1; Mon 5 and Sun 11 are week 2; Mon 12 is week 3.
			series("2026-01-04 12:00", "2026-01-05 12:00", "2026-01-11 12:00", "2026-01-12 12:00"),
			"2026-01-12 12:00,2026-01-11 12:00", "2026-01-05 12:00,2026-01-04 12:00"},
		{"monthly", Policy{Monthly: 2}, series("2026-01-05 00:00", "2026-01-31 23:00", "2026-02-01 00:00", "2026-03-15 00:00"),
			"2026-03-15 00:00,2026-02-01 00:00", "2026-01-31 23:00,2026-01-05 00:00"},
		{"rules combine: kept by any rule is kept", Policy{Last: 1, Monthly: 2},
			series("2026-01-05 00:00", "2026-01-31 23:00", "2026-02-01 00:00", "2026-02-02 00:00"),
			"2026-02-02 00:00,2026-01-31 23:00", "2026-02-01 00:00,2026-01-05 00:00"},
		{"daily 7 weekly 4 monthly 3 over ten weeks", Policy{Daily: 7, Weekly: 4, Monthly: 3}, series(twiceDaily...),
			"2026-03-10 15:00,2026-03-09 15:00,2026-03-08 15:00,2026-03-07 15:00,2026-03-06 15:00,2026-03-05 15:00,2026-03-04 15:00," +
				"2026-03-01 15:00,2026-02-28 15:00,2026-02-22 15:00,2026-01-31 15:00", ""}, // weeks 11,10,9,8; months 3,2,1
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, forget := Apply(tc.p, tc.in)
			if got := keys(keep); got != tc.keep {
				t.Errorf("keep\n got %s\nwant %s", got, tc.keep)
			}
			if tc.drop != "" || len(tc.in) < 10 {
				if got := keys(forget); got != tc.drop {
					t.Errorf("forget\n got %s\nwant %s", got, tc.drop)
				}
			}
			if len(keep)+len(forget) != len(tc.in) {
				t.Errorf("%d kept + %d forgotten of %d", len(keep), len(forget), len(tc.in))
			}
		})
	}
}

func TestApplyUsesUTC(t *testing.T) {
	// 23:30 UTC on 1 Jan is 2 Jan in Tokyo: still two distinct UTC days.
	tokyo := time.FixedZone("JST", 9*3600)
	in := []Backup{
		{Key: "a", Time: time.Date(2026, 1, 1, 23, 30, 0, 0, time.UTC).In(tokyo)},
		{Key: "b", Time: time.Date(2026, 1, 2, 0, 30, 0, 0, time.UTC).In(tokyo)},
	}
	if keep, _ := Apply(Policy{Daily: 5}, in); len(keep) != 2 {
		t.Fatalf("kept %s", keys(keep))
	}
}

func TestKeepNewest(t *testing.T) {
	in := series("2026-01-01 00:00", "2026-01-02 00:00", "2026-01-03 00:00")
	if keep, forget := KeepNewest(2, in); keys(keep) != "2026-01-03 00:00,2026-01-02 00:00" || keys(forget) != "2026-01-01 00:00" {
		t.Fatalf("keep %s forget %s", keys(keep), keys(forget))
	}
	if keep, forget := KeepNewest(0, in); len(keep) != 3 || len(forget) != 0 {
		t.Fatalf("keep 0: keep %s forget %s", keys(keep), keys(forget))
	}
}

// FuzzApply checks Apply's properties on arbitrary series and policies:
// a partition of its input, newest first, within each rule's count, the
// newest kept when any rule is on, independent of input order, and
// monotone (a larger count never forgets what a smaller one kept).
func FuzzApply(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	f.Add([]byte{0, 0, 0, 5}, []byte("abcdefghijklmnopqrstuvwxyz0123456789"))
	f.Fuzz(func(t *testing.T, counts, times []byte) {
		p := Policy{}
		for i, c := range counts {
			n := int(c % 12)
			switch i {
			case 0:
				p.Last = n
			case 1:
				p.Daily = n
			case 2:
				p.Weekly = n
			case 3:
				p.Monthly = n
			}
		}
		var in []Backup
		base := at("2025-06-01 00:00")
		for i := 0; i+2 <= len(times) && len(in) < 300; i += 2 {
			hours := binary.LittleEndian.Uint16(times[i:])
			in = append(in, Backup{Key: fmt.Sprint(i), Time: base.Add(time.Duration(hours) * time.Hour)})
		}
		keep, forget := Apply(p, in)
		all := append(append([]Backup{}, keep...), forget...)
		if len(all) != len(in) {
			t.Fatalf("%d in, %d out", len(in), len(all))
		}
		seen := map[string]bool{}
		for _, b := range all {
			if seen[b.Key] {
				t.Fatalf("%s twice", b.Key)
			}
			seen[b.Key] = true
		}
		for _, part := range [][]Backup{keep, forget} {
			for i := 1; i < len(part); i++ {
				if part[i].Time.After(part[i-1].Time) {
					t.Fatal("not newest first")
				}
			}
		}
		if limit := max(p.Last, 0) + max(p.Daily, 0) + max(p.Weekly, 0) + max(p.Monthly, 0); len(keep) > limit {
			t.Fatalf("kept %d > %d", len(keep), limit)
		}
		if len(in) > 0 && !p.Empty() {
			newest := slices.MaxFunc(in, func(a, b Backup) int {
				if c := a.Time.Compare(b.Time); c != 0 {
					return c
				}
				return strings.Compare(a.Key, b.Key)
			})
			if len(keep) == 0 || keep[0].Key != newest.Key {
				t.Fatalf("newest %s not kept first", newest.Key)
			}
		}
		rev := slices.Clone(in)
		slices.Reverse(rev)
		if k2, _ := Apply(p, rev); keys(k2) != keys(keep) {
			t.Fatal("depends on input order")
		}
		bigger := p
		bigger.Daily++
		bigger.Monthly++
		k3, _ := Apply(bigger, in)
		kept3 := map[string]bool{}
		for _, b := range k3 {
			kept3[b.Key] = true
		}
		for _, b := range keep {
			if !kept3[b.Key] {
				t.Fatalf("%s kept by %+v but not by %+v", b.Key, p, bigger)
			}
		}
	})
}

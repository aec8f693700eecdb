// Package retention decides which scheduled backups a rotation keeps, by
// restic's `forget --keep-last/--keep-daily/--keep-weekly/--keep-monthly`
// rules, in UTC. It is pure: the host lists, filters (pins, other names)
// and deletes; this package only sorts and chooses, so the rule can be
// tested on its own and previewed before it is saved.
package retention

import (
	"sort"
	"time"
)

// Policy is how many backups each rule keeps; 0 turns a rule off.
type Policy struct {
	Last    int `json:"keepLast"`
	Daily   int `json:"keepDaily"`
	Weekly  int `json:"keepWeekly"`
	Monthly int `json:"keepMonthly"`
}

// Empty reports whether no rule is on (a rotation then keeps everything).
func (p Policy) Empty() bool {
	return p.Last <= 0 && p.Daily <= 0 && p.Weekly <= 0 && p.Monthly <= 0
}

// Backup is one candidate for rotation.
type Backup struct {
	Key  string
	Time time.Time
}

// Apply splits backups into those p keeps and those it forgets, each
// newest first. As restic does: walking from the newest, keep-last keeps
// the first Last backups; keep-daily keeps the newest backup of each of
// the Daily most recent days that have one, and likewise per ISO week and
// per month; a backup any rule keeps is kept. Equal times order by key,
// so the result never depends on the input's order.
func Apply(p Policy, backups []Backup) (keep, forget []Backup) {
	list := append([]Backup(nil), backups...)
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Time.Equal(list[j].Time) {
			return list[i].Time.After(list[j].Time)
		}
		return list[i].Key > list[j].Key
	})
	type bucket struct {
		left int
		of   func(i int, t time.Time) int
		last int
	}
	buckets := []*bucket{
		{left: p.Last, of: func(i int, _ time.Time) int { return i }},
		{left: p.Daily, of: func(_ int, t time.Time) int { y, m, d := t.Date(); return y*10000 + int(m)*100 + d }},
		{left: p.Weekly, of: func(_ int, t time.Time) int { y, w := t.ISOWeek(); return y*100 + w }},
		{left: p.Monthly, of: func(_ int, t time.Time) int { y, m, _ := t.Date(); return y*100 + int(m) }},
	}
	for _, b := range buckets {
		b.last = -1
	}
	for i, b := range list {
		t := b.Time.UTC()
		kept := false
		for _, bk := range buckets {
			if bk.left <= 0 {
				continue
			}
			if v := bk.of(i, t); v != bk.last {
				bk.last = v
				bk.left--
				kept = true
			}
		}
		if kept {
			keep = append(keep, b)
		} else {
			forget = append(forget, b)
		}
	}
	return keep, forget
}

// KeepNewest is PocketBase's cronMaxKeep rule: the n newest (n < 1 keeps
// everything), in Apply's order.
func KeepNewest(n int, backups []Backup) (keep, forget []Backup) {
	if n < 1 {
		keep, _ = Apply(Policy{Last: len(backups)}, backups)
		return keep, nil
	}
	return Apply(Policy{Last: n}, backups)
}

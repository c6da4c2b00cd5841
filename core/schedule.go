package core

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ZoneSchedule is a digest's cron schedule read in its zone, with the daylight-saving rule of
// cron(8) (docs/configuration.md, digests):
//
//   - A schedule at fixed local times (neither its minute nor its hour field starts with * or
//     ?, and the descriptors @daily, @midnight, @weekly, @monthly, @yearly, @annually) runs each
//     of its local times exactly once on every local day it names. A time the clock skips
//     (02:30 when 02:00 jumps to 03:00) runs at the moment of the jump; a time the clock shows
//     twice (01:30 when 02:00 falls back to 01:00) runs at its first occurrence only. Skipped
//     times that meet at the same moment run once.
//   - Any other schedule (*/15 * * * *, 0 * * * *, @hourly) runs at the times the clock
//     shows, as cron(8) runs wildcard jobs: an hour the clock skips has no runs, an hour it
//     shows twice has its runs twice, which keeps */15 * * * * and 0 * * * * at even steps of
//     real time through the change. @every counts real time from the previous run.
//
// The cron syntax is robfig/cron's standard parser; ZoneSchedule only maps its local times to
// instants. Safe for concurrent use.
type ZoneSchedule struct {
	cron      cron.Schedule
	loc       *time.Location
	wallClock bool // fixed local times: the rule above
}

var _ Schedule = (*ZoneSchedule)(nil)

// ParseSchedule parses spec (5 fields "minute hour day-of-month month day-of-week", or a
// descriptor such as @daily or @every 1h) to be read in loc (nil: UTC). Errors are the cron
// parser's ("expected exactly 5 fields, found 4: [0 8 * *]").
func ParseSchedule(spec string, loc *time.Location) (*ZoneSchedule, error) {
	c, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	return &ZoneSchedule{cron: c, loc: loc, wallClock: fixedTimes(spec)}, nil
}

// fixedTimes reports whether spec names fixed local times (see ZoneSchedule).
func fixedTimes(spec string) bool {
	f := strings.Fields(spec)
	if len(f) == 0 {
		return false
	}
	if strings.HasPrefix(f[0], "@") {
		switch f[0] {
		case "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually":
			return true
		}
		return false // @hourly, @every
	}
	wild := func(field string) bool { return strings.HasPrefix(field, "*") || strings.HasPrefix(field, "?") }
	return len(f) == 5 && !wild(f[0]) && !wild(f[1])
}

// lookback is how far before t's local time Next starts looking for local times: more than
// any daylight-saving shift (at most 2 hours, Antarctica/Troll), so that a local time the
// clock has just shown again is found and recognised as already run.
const lookback = 3 * time.Hour

// Next returns the first activation strictly after t, in the schedule's zone, or the zero
// time when the schedule names no time in the next five years (the cron parser's limit).
func (s *ZoneSchedule) Next(t time.Time) time.Time {
	if !s.wallClock {
		return s.cron.Next(t.In(s.loc))
	}
	// The cron schedule runs on local times written as UTC values, where no clock jumps; each
	// local time it names is then placed on the real clock.
	lt := t.In(s.loc)
	w := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC).Add(-lookback)
	for {
		w = s.cron.Next(w)
		if w.IsZero() {
			return w
		}
		if at := instant(w, s.loc); at.After(t) {
			return at
		}
	}
}

// instant is the first moment the clock in loc shows the local time w (w's fields, written as
// UTC), or, when the clock skips w (a daylight-saving gap), the moment it jumps. The offsets
// in force a day before and after w cover one transition near w; zones change at most twice
// a year.
func instant(w time.Time, loc *time.Location) time.Time {
	var first, latest time.Time
	for _, probe := range []time.Duration{-24 * time.Hour, 0, 24 * time.Hour} {
		_, off := w.Add(probe).In(loc).Zone()
		u := w.Add(-time.Duration(off) * time.Second)
		if _, o := u.In(loc).Zone(); o == off && (first.IsZero() || u.Before(first)) {
			first = u
		}
		if u.After(latest) {
			latest = u
		}
	}
	if !first.IsZero() {
		return first.In(loc)
	}
	// In a gap: reading w with the offset before the jump lands after it; the zone in force
	// there starts at the jump.
	start, _ := latest.In(loc).ZoneBounds()
	return start
}

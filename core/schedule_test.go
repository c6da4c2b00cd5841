package core_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func rfc3339(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return ts
}

// TestZoneScheduleDST: the 2027 daylight-saving changes of Europe/Berlin (Mar 28 02:00→03:00,
// Oct 31 03:00→02:00) and America/New_York (Mar 14 02:00→03:00, Nov 7 02:00→01:00). A fixed
// local time runs once on every local day: in the gap at the jump, in the overlap at its first
// occurrence. Sub-daily schedules follow real time.
func TestZoneScheduleDST(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		zone, spec, from string
		want             []string
	}{
		"berlin 02:30 spring: at the jump": {"Europe/Berlin", "30 2 * * *", "2027-03-26T12:00:00+01:00",
			[]string{"2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00"}},
		"berlin 02:30 fall: first occurrence only": {"Europe/Berlin", "30 2 * * *", "2027-10-29T12:00:00+02:00",
			[]string{"2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00", "2027-11-02T02:30:00+01:00"}},
		"berlin 02:30 fall, from inside the repeated hour": {"Europe/Berlin", "30 2 * * *", "2027-10-31T02:10:00+01:00",
			[]string{"2027-11-01T02:30:00+01:00"}},
		"berlin 02:30 fall, from between the two occurrences": {"Europe/Berlin", "30 2 * * *", "2027-10-31T02:30:00+02:00",
			[]string{"2027-11-01T02:30:00+01:00"}},
		"berlin 01:30 outside the gap and overlap": {"Europe/Berlin", "30 1 * * *", "2027-03-27T12:00:00+01:00",
			[]string{"2027-03-28T01:30:00+01:00", "2027-03-29T01:30:00+02:00"}},
		"berlin 01:30 fall": {"Europe/Berlin", "30 1 * * *", "2027-10-30T12:00:00+02:00",
			[]string{"2027-10-31T01:30:00+02:00", "2027-11-01T01:30:00+01:00"}},
		"berlin 03:30 both changes": {"Europe/Berlin", "30 3 * * *", "2027-03-27T12:00:00+01:00",
			[]string{"2027-03-28T03:30:00+02:00", "2027-03-29T03:30:00+02:00"}},
		"berlin 03:30 fall": {"Europe/Berlin", "30 3 * * *", "2027-10-30T12:00:00+02:00",
			[]string{"2027-10-31T03:30:00+01:00", "2027-11-01T03:30:00+01:00"}},
		"new york 02:30 spring: at the jump": {"America/New_York", "30 2 * * *", "2027-03-13T00:00:00-05:00",
			[]string{"2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"}},
		"new york 01:30 fall: first occurrence only": {"America/New_York", "30 1 * * *", "2027-11-06T00:00:00-04:00",
			[]string{"2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"}},
		"new york 01:30 spring, outside the gap": {"America/New_York", "30 1 * * *", "2027-03-13T12:00:00-05:00",
			[]string{"2027-03-14T01:30:00-05:00", "2027-03-15T01:30:00-04:00"}},
		"new york 02:30 fall, outside the overlap": {"America/New_York", "30 2 * * *", "2027-11-06T12:00:00-04:00",
			[]string{"2027-11-07T02:30:00-05:00", "2027-11-08T02:30:00-05:00"}},
		"two times in the gap run once": {"Europe/Berlin", "0,30 2,3 * * *", "2027-03-28T00:00:00+01:00",
			[]string{"2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:00:00+02:00"}},
		"weekly on the spring Sunday": {"Europe/Berlin", "30 2 * * SUN", "2027-03-20T00:00:00+01:00",
			[]string{"2027-03-21T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-04-04T02:30:00+02:00"}},
		"weekly on the fall Sunday": {"Europe/Berlin", "30 2 * * 0", "2027-10-23T00:00:00+02:00",
			[]string{"2027-10-24T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-07T02:30:00+01:00"}},
		"weekly new york fall Sunday": {"America/New_York", "30 1 * * SUN", "2027-10-30T00:00:00-04:00",
			[]string{"2027-10-31T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-14T01:30:00-05:00"}},
		"@weekly": {"Europe/Berlin", "@weekly", "2027-03-20T00:00:00+01:00",
			[]string{"2027-03-21T00:00:00+01:00", "2027-03-28T00:00:00+01:00", "2027-04-04T00:00:00+02:00"}},
		"*/15 spring: real time": {"Europe/Berlin", "*/15 * * * *", "2027-03-28T01:30:00+01:00",
			[]string{"2027-03-28T01:45:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T03:15:00+02:00"}},
		"*/15 fall: real time, the repeated hour too": {"Europe/Berlin", "*/15 * * * *", "2027-10-31T02:30:00+02:00",
			[]string{"2027-10-31T02:45:00+02:00", "2027-10-31T02:00:00+01:00", "2027-10-31T02:15:00+01:00",
				"2027-10-31T02:30:00+01:00", "2027-10-31T02:45:00+01:00", "2027-10-31T03:00:00+01:00"}},
		"hourly spring": {"Europe/Berlin", "0 * * * *", "2027-03-28T00:30:00+01:00",
			[]string{"2027-03-28T01:00:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T04:00:00+02:00"}},
		"hourly fall": {"America/New_York", "0 * * * *", "2027-11-07T00:30:00-04:00",
			[]string{"2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00", "2027-11-07T02:00:00-05:00"}},
		"@every 1h fall": {"America/New_York", "@every 1h", "2027-11-07T00:30:00-04:00",
			[]string{"2027-11-07T01:30:00-04:00", "2027-11-07T01:30:00-05:00", "2027-11-07T02:30:00-05:00"}},
		"utc": {"UTC", "0 8 * * MON", "2027-03-28T00:00:00Z",
			[]string{"2027-03-29T08:00:00Z", "2027-04-05T08:00:00Z"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc := zone(t, tc.zone)
			s, err := core.ParseSchedule(tc.spec, loc)
			require.NoError(t, err)
			var got []string
			for at := rfc3339(t, tc.from); len(got) < len(tc.want); {
				at = s.Next(at)
				require.Equal(t, loc, at.Location())
				got = append(got, at.Format(time.RFC3339))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestZoneScheduleOncePerLocalDay: over all of 2027, in zones that change at 02:00, at midnight
// (America/Havana, America/Santiago), by 30 minutes (Australia/Lord_Howe) or not at all, a
// daily time runs exactly once on each local day, and a 15-minute schedule runs every 15 real
// minutes.
func TestZoneScheduleOncePerLocalDay(t *testing.T) {
	t.Parallel()
	tests := []struct{ zone, spec string }{
		{"Europe/Berlin", "30 2 * * *"},
		{"America/New_York", "30 1 * * *"},
		{"America/New_York", "30 2 * * *"},
		{"America/Havana", "@daily"},
		{"America/Santiago", "0 0 * * *"},
		{"Australia/Lord_Howe", "45 1 * * *"}, // in the repeated half hour in April
		{"Australia/Lord_Howe", "15 2 * * *"}, // in the skipped half hour in October
		{"Asia/Tehran", "30 2 * * *"},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+tc.spec, func(t *testing.T) {
			t.Parallel()
			loc := zone(t, tc.zone)
			s, err := core.ParseSchedule(tc.spec, loc)
			require.NoError(t, err)
			perDay := map[string]int{}
			for at := time.Date(2027, 1, 1, 0, 0, 0, 0, loc).Add(-time.Second); at.Year() < 2028; at = s.Next(at) {
				perDay[at.Format(time.DateOnly)]++
			}
			for d := time.Date(2027, 1, 1, 12, 0, 0, 0, loc); d.Year() == 2027; d = d.AddDate(0, 0, 1) {
				require.Equal(t, 1, perDay[d.Format(time.DateOnly)], d.Format(time.DateOnly))
			}
		})
	}
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		t.Run(name+" */15", func(t *testing.T) {
			t.Parallel()
			s, err := core.ParseSchedule("*/15 * * * *", zone(t, name))
			require.NoError(t, err)
			prev := s.Next(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
			for at := s.Next(prev); at.Year() < 2028; prev, at = at, s.Next(at) {
				require.Equal(t, 15*time.Minute, at.Sub(prev), at.Format(time.RFC3339))
			}
		})
	}
}

// TestSchedulerFiresOnceAcrossDST: the scheduler, its clock stepped every 5 minutes through
// the night of each change, closes exactly one period for a 02:30 digest: at 03:00 on the
// spring Sunday, at the first 02:30 on the fall Sunday.
func TestSchedulerFiresOnceAcrossDST(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		zone, spec string
		from, to   string // UTC, the clock's steps
		wantRun    string // the period's end, UTC
		wantNext   string // the next activation stored, UTC
	}{
		"berlin spring": {zone: "Europe/Berlin", spec: "30 2 * * *", from: "2027-03-27T22:00:00Z", to: "2027-03-28T05:00:00Z",
			wantRun: "digest_d_20270328T010000Z", wantNext: "2027-03-29T00:30:00Z"},
		"berlin fall": {zone: "Europe/Berlin", spec: "30 2 * * *", from: "2027-10-30T22:00:00Z", to: "2027-10-31T05:00:00Z",
			wantRun: "digest_d_20271031T003000Z", wantNext: "2027-11-01T01:30:00Z"},
		"new york fall": {zone: "America/New_York", spec: "30 1 * * *", from: "2027-11-07T03:00:00Z", to: "2027-11-07T09:00:00Z",
			wantRun: "digest_d_20271107T053000Z", wantNext: "2027-11-08T06:30:00Z"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var clock atomic.Int64
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			clock.Store(rfc3339(t, tc.from).UnixNano())
			loc := zone(t, tc.zone)
			sched, err := core.ParseSchedule(tc.spec, loc)
			require.NoError(t, err)
			spec := &core.DigestSpec{Name: "d", Spec: tc.spec + " " + tc.zone, Schedule: sched, Location: loc,
				Target: "mail", Template: "compliance-digest", SendEmpty: true}
			log := slog.New(slog.DiscardHandler)
			router := &core.Router{Digests: []*core.DigestSpec{spec}, Log: log}
			e := startEngine(t, "", core.DispatcherConfig{Owner: "o"}, &core.Plan{Router: router}, now)
			s := &core.Scheduler{Store: e.store, Owner: "o", Digests: func() []*core.DigestSpec { return router.Digests }, NowFunc: now, Log: log}
			ctx := context.Background()
			require.NoError(t, s.Sync(ctx))
			for end := rfc3339(t, tc.to); !now().After(end); clock.Add(int64(5 * time.Minute)) {
				require.NoError(t, s.RunDue(ctx))
			}
			ds, err := e.store.Deliveries(ctx, core.DeliveryFilter{Target: "mail"})
			require.NoError(t, err)
			var runs []string
			for _, d := range ds {
				runs = append(runs, d.EventID)
			}
			require.Equal(t, []string{tc.wantRun}, runs)
			st, ok, err := e.store.DigestState(ctx, "d")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, tc.wantNext, st.NextRun.UTC().Format(time.RFC3339))
		})
	}
}

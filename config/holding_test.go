package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
)

const holdingRoutes = `time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '22:00', end_time: '24:00'}, {start_time: '00:00', end_time: '07:00'}]
        location: Europe/Berlin
  - name: weekdays
    time_intervals:
      - weekdays: ['monday:friday']
routes:
  - name: findings
    when: 'event == "issue.critical"'
    targets: [audit]
    group: {by: [scan_id, repo], close_on: 'event == "scan.completed"'}
  - name: failures
    when: 'event == "scan.failed"'
    targets: [audit]
    throttle: {key: repo, interval: 1h}
    mute_time: [nights]
  - name: office
    when: 'true'
    targets: [audit]
    active_time: [weekdays]
    on_mute: drop
`

// TestBuild_RouteHolding: group (with its defaults), throttle and quiet hours reach the routes.
func TestBuild_RouteHolding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg, err := b.parse(t, ingestSection+auditTarget+holdingRoutes, nil)
	require.NoError(t, err)
	rt, err := config.Build(cfg, config.BuildOptions{Version: "test", DryRun: true})
	require.NoError(t, err)
	defer rt.Close()
	routes := rt.Router.Routes
	require.Len(t, routes, 3)

	g := routes[0].Group
	require.NotNil(t, g)
	require.Equal(t, config.DefaultGroupWait, g.Wait)
	require.Equal(t, config.DefaultGroupMaxWait, g.MaxWait)
	require.Len(t, g.By, 2)
	require.NotNil(t, g.CloseOn)
	require.Nil(t, routes[0].Mute)

	th := routes[1].Throttle
	require.NotNil(t, th)
	require.Equal(t, time.Hour, th.Interval)
	require.NotNil(t, th.Key)
	m := routes[1].Mute
	require.NotNil(t, m)
	require.False(t, m.Drop, "on_mute defaults to hold")
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	require.True(t, m.Muted(time.Date(2026, 3, 2, 23, 30, 0, 0, berlin)))
	require.True(t, m.Muted(time.Date(2026, 3, 2, 6, 59, 0, 0, berlin)))
	require.False(t, m.Muted(time.Date(2026, 3, 2, 7, 0, 0, 0, berlin)))
	require.True(t, m.Muted(time.Date(2026, 3, 2, 21, 30, 0, 0, time.UTC)), "22:30 in Berlin (UTC+1 in March)")

	office := routes[2].Mute
	require.True(t, office.Drop)
	require.False(t, office.Muted(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)), "a Monday")
	require.True(t, office.Muted(time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)), "a Saturday")
}

func TestParse_RouteHoldingErrors(t *testing.T) {
	t.Parallel()
	route := "  - name: r\n    when: 'true'\n    targets: [audit]\n"
	tests := map[string]struct {
		src   string
		wants []wantKey
	}{
		"group and throttle": {
			src:   routesSection + route + "    group: {by: [scan_id]}\n    throttle: {interval: 1h}\n",
			wants: []wantKey{{"routes[1]", "- name: r", "has both group and throttle"}},
		},
		"max_wait shorter than wait": {
			src:   routesSection + route + "    group:\n      wait: 2m\n      max_wait: 1m\n",
			wants: []wantKey{{"routes[1].group.max_wait", "max_wait: 1m", "1m0s is shorter than group.wait (2m0s)"}},
		},
		"unknown field in a key": {
			src:   routesSection + route + "    group:\n      by: [scan_idd]\n",
			wants: []wantKey{{"routes[1].group.by[0]", "scan_idd", "unknown name scan_idd"}},
		},
		"close_on that is not a rule": {
			src:   routesSection + route + "    group:\n      close_on: 'score'\n",
			wants: []wantKey{{"routes[1].group.close_on", "close_on", "bool"}},
		},
		"throttle without interval": {
			src:   routesSection + route + "    throttle:\n      key: repo\n",
			wants: []wantKey{{"routes[1].throttle.interval", "throttle:", "required"}},
		},
		"unknown time interval": {
			src:   routesSection + route + "    mute_time: [nigths]\n",
			wants: []wantKey{{"routes[1].mute_time[0]", "mute_time", `no time interval named "nigths" (time_intervals is empty)`}},
		},
		"on_mute value": {
			src:   routesSection + route + "    mute_time: [n]\n    on_mute: later\ntime_intervals:\n  - name: n\n    time_intervals: [{weekdays: [sunday]}]\n",
			wants: []wantKey{{"routes[1].on_mute", "on_mute: later", `"later" is not hold or drop`}},
		},
		"on_mute alone": {
			src:   routesSection + route + "    on_mute: drop\n",
			wants: []wantKey{{"routes[1].on_mute", "on_mute: drop", "set mute_time or active_time too"}},
		},
		"typo in a time interval": {
			src:   routesSection + "time_intervals:\n  - name: n\n    time_intervals:\n      - wekdays: [sunday]\n",
			wants: []wantKey{{"time_intervals[0].time_intervals[0].wekdays", "wekdays", `unknown key (did you mean "weekdays"?)`}},
		},
		"time that does not parse": {
			src:   routesSection + "time_intervals:\n  - name: n\n    time_intervals:\n      - times: [{start_time: '25:00', end_time: '07:00'}]\n",
			wants: []wantKey{{"time_intervals[0].time_intervals[0].times[0]", "25:00", "couldn't parse timestamp 25:00"}},
		},
		"bad weekday and zone keep the rest checked": {
			src: routesSection + "time_intervals:\n  - name: n\n    time_intervals:\n      - weekdays: [funday]\n        location: Mars/Olympus\n" +
				"  - name: n\n    time_intervals: []\n",
			wants: []wantKey{
				{"time_intervals[0].time_intervals[0].weekdays[0]", "funday", "funday"},
				{"time_intervals[0].time_intervals[0].location", "Mars/Olympus", "Mars/Olympus"},
				{"time_intervals[1].name", "- name: n", `"n" is used by another time interval`},
				{"time_intervals[1].time_intervals", "time_intervals: []", "at least one entry required"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := ingestSection + auditTarget + tc.src
			_, err := setup(t).parse(t, src, nil)
			requireKeyErrors(t, src, err, tc.wants...)
		})
	}
}

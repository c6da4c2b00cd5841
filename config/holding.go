package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// Defaults of routes[].group.
const (
	DefaultGroupWait    = 30 * time.Second
	DefaultGroupMaxWait = 5 * time.Minute
)

// validateTimeIntervals checks time_intervals and returns them by name.
func (c *Config) validateTimeIntervals(bad func(path, format string, args ...any)) map[string]*TimeInterval {
	out := map[string]*TimeInterval{}
	for i := range c.TimeIntervals {
		ti := &c.TimeIntervals[i]
		p := fmt.Sprintf("time_intervals[%d]", i)
		switch {
		case ti.Name == "":
			bad(p+".name", "required")
		case out[ti.Name] != nil:
			bad(p+".name", "%q is used by another time interval", ti.Name)
		default:
			out[ti.Name] = ti
		}
		if len(ti.TimeIntervals) == 0 {
			bad(p+".time_intervals", "at least one entry required (times, weekdays, days_of_month, months, years, location)")
		}
	}
	return out
}

// validateHolding checks a route's group, throttle and quiet hours, and compiles their
// expressions.
func (c *Config) validateHolding(r *Route, p string, intervals map[string]*TimeInterval, bad func(path, format string, args ...any)) {
	if r.Group != nil && r.Throttle != nil {
		bad(p, "route %q has both group and throttle; use one (group.wait and group.max_wait also limit how often it sends)", r.Name)
	}
	if g := r.Group; g != nil {
		if g.Wait == 0 {
			g.Wait = DefaultGroupWait
		}
		if g.MaxWait == 0 {
			g.MaxWait = max(DefaultGroupMaxWait, g.Wait)
		}
		switch {
		case g.Wait < 0:
			bad(p+".group.wait", "must be positive, e.g. 30s")
		case g.MaxWait < g.Wait:
			bad(p+".group.max_wait", "%s is shorter than group.wait (%s)", g.MaxWait, g.Wait)
		}
		r.keys = nil
		for j, by := range g.By {
			if k, err := rules.CompileKey(by); err != nil {
				bad(fmt.Sprintf("%s.group.by[%d]", p, j), "route %q: %v", r.Name, err)
			} else {
				r.keys = append(r.keys, k)
			}
		}
		if strings.TrimSpace(g.CloseOn) != "" {
			if rule, err := rules.Compile(g.CloseOn); err != nil {
				bad(p+".group.close_on", "route %q: %v", r.Name, err)
			} else {
				r.closeOn = rule
			}
		}
	}
	if th := r.Throttle; th != nil {
		if th.Interval <= 0 {
			bad(p+".throttle.interval", "required: how long one message per key holds the next ones back, e.g. 1h")
		}
		r.keys = nil
		if strings.TrimSpace(th.Key) != "" {
			if k, err := rules.CompileKey(th.Key); err != nil {
				bad(p+".throttle.key", "route %q: %v", r.Name, err)
			} else {
				r.keys = []*rules.Key{k}
			}
		}
	}
	for _, field := range []struct {
		key   string
		names []string
	}{{"mute_time", r.MuteTime}, {"active_time", r.ActiveTime}} {
		for j, name := range field.names {
			if intervals[name] == nil {
				bad(fmt.Sprintf("%s.%s[%d]", p, field.key, j), "no time interval named %q%s", name, knownIntervals(intervals))
			}
		}
	}
	switch {
	case r.OnMute != "" && r.OnMute != "hold" && r.OnMute != "drop":
		bad(p+".on_mute", "%q is not hold or drop", r.OnMute)
	case r.OnMute != "" && len(r.MuteTime) == 0 && len(r.ActiveTime) == 0:
		bad(p+".on_mute", "set mute_time or active_time too (on_mute says what happens while muted)")
	}
}

func knownIntervals(m map[string]*TimeInterval) string {
	if len(m) == 0 {
		return " (time_intervals is empty)"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return "; known: " + strings.Join(names, ", ")
}

// holding builds a route's group, throttle and quiet hours for core.
func (c *Config) holding(r *Route, rt *core.Route) {
	if g := r.Group; g != nil {
		rt.Group = &core.GroupPolicy{Wait: g.Wait, MaxWait: g.MaxWait}
		for _, k := range r.keys {
			rt.Group.By = append(rt.Group.By, k)
		}
		if r.closeOn != nil {
			rt.Group.CloseOn = r.closeOn
		}
	}
	if th := r.Throttle; th != nil {
		rt.Throttle = &core.ThrottlePolicy{Interval: th.Interval}
		if len(r.keys) == 1 {
			rt.Throttle.Key = r.keys[0]
		}
	}
	if len(r.MuteTime) == 0 && len(r.ActiveTime) == 0 {
		return
	}
	byName := map[string]*TimeInterval{}
	for i := range c.TimeIntervals {
		byName[c.TimeIntervals[i].Name] = &c.TimeIntervals[i]
	}
	collect := func(names []string) []core.TimeInterval {
		var out []core.TimeInterval
		for _, name := range names {
			if ti := byName[name]; ti != nil { // nil: reported by Validate
				for _, iv := range ti.TimeIntervals {
					out = append(out, iv)
				}
			}
		}
		return out
	}
	rt.Mute = &core.MutePolicy{Mute: collect(r.MuteTime), Active: collect(r.ActiveTime), Drop: r.OnMute == "drop"}
}

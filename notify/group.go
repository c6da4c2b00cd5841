package notify

import (
	"fmt"
	"strings"
	"time"
)

// Group policies, as group events and templates (.Group.Policy) name them.
const (
	PolicyGroup    = "group"
	PolicyThrottle = "throttle"
	PolicyHold     = "hold"    // held through quiet hours
	PolicyRelease  = "release" // the route no longer holds events (config changed): sent at once
)

// GroupRun is the body of a group event (and, with Count, what templates see as .Group).
type GroupRun struct {
	Route    string    `json:"route"`
	Target   string    `json:"target"`
	Key      string    `json:"key"`
	Policy   string    `json:"policy"`             // PolicyGroup, PolicyThrottle, PolicyHold or PolicyRelease
	First    time.Time `json:"first"`              // received_at of the first event in it
	Last     time.Time `json:"last"`               // …and of the last
	Previous time.Time `json:"previous,omitzero"`  // throttle: when the previous message of this key went out
	Interval string    `json:"interval,omitempty"` // throttle: the interval, e.g. "1h0m0s"
	Count    int       `json:"count,omitempty"`    // events in the group (set when it is delivered)
	Bridge   bool      `json:"bridge,omitempty"`   // its events are the bridge's own alerts (bridge.*)
}

// Note says in a line why a message was held back, for templates ({{ with .Group }}{{ .Note }}
// {{ end }}): for a throttle "+5 similar since 10:02 UTC · one message per 1h", for quiet hours
// "held during quiet hours since 22:14 UTC"; "" for a group (its count says it all).
func (g *GroupRun) Note() string {
	since := g.First.UTC().Format("15:04 UTC")
	if g.Last.Sub(g.First) >= 24*time.Hour {
		since = g.First.UTC().Format("Jan 2 15:04 UTC")
	}
	switch g.Policy {
	case PolicyThrottle:
		return fmt.Sprintf("+%d similar since %s · one message per %s", g.Count, since, ShortDuration(g.Interval))
	case PolicyHold:
		return "held during quiet hours since " + since
	}
	return ""
}

// ShortDuration drops the zero units of a time.Duration's text: "1h0m0s" → "1h"; a text that is
// not a positive duration is returned as it is.
func ShortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return s
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// fingerprintSilence silences the events whose fingerprint (as the bridge sets it for rules)
// is fp.
type fingerprintSilence struct{ fp string }

func (s fingerprintSilence) Silenced(ev *event.Event, _ time.Time) (string, bool) {
	return "s-fp", ev.Fingerprint == s.fp
}

// TestDerivedFindingEventsAreSilenced: the finding.* events a scan's comparison derives are
// checked against the silences as ingest checks Cortex's events: a silenced one's delivery to a
// config target is recorded as silenced (naming the silence) and never sent, another finding's
// is sent, and a registered webhook's deliveries are sent whatever the silences say.
func TestDerivedFindingEventsAreSilenced(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		target   string
		silenced bool // whether the muted finding's finding.new is silenced
	}{
		"config target":      {target: "hook", silenced: true},
		"registered webhook": {target: core.WebhookPrefix + "0193tenant"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rc, url := newReceiver(t, nil)
			b := setup(t, setupOpts{url: url, name: tt.target, findings: core.FindingsPolicy{Settle: time.Nanosecond}})
			ctx := context.Background()
			parse := func(typ, id, data string) *event.Event {
				ev, err := event.Parse([]byte(fmt.Sprintf(`{"event":%q,"id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s1",%s}}`, typ, id, data)))
				require.NoError(t, err)
				return ev
			}
			muted := parse("issue.critical", "i-1", `"issue_id":"1","severity":"critical","title":"SQLi","file":"a.go"`)
			fp := core.FindingsPolicy{}.FingerprintOf(muted)
			require.NotEmpty(t, fp)
			for _, ev := range []*event.Event{
				parse("scan.started", "started", `"repo_url":"https://github.com/acme/api","branch":"main"`),
				muted,
				parse("issue.critical", "i-2", `"issue_id":"2","severity":"critical","title":"XSS","file":"b.go"`),
				parse("scan.completed", "completed", `"repo_url":"https://github.com/acme/api","status":"completed"`),
			} {
				_, err := b.bus.Accept(ctx, ev)
				require.NoError(t, err)
			}
			require.Equal(t, fp, muted.Fingerprint, "ingest gives rules the fingerprint")
			b.bus.SetSilencer(fingerprintSilence{fp: fp}) // from here: the scan's events were not silenced
			runner := &core.FindingsRunner{Store: b.store, Disp: b.disp, Silencer: fingerprintSilence{fp: fp},
				Log: slog.New(slog.DiscardHandler)}
			require.Eventually(t, func() bool { // once the settle time (1 ns) has passed
				require.NoError(t, runner.RunDue(ctx))
				fs, err := b.store.Findings(ctx, core.FindingFilter{})
				require.NoError(t, err)
				return len(fs) == 2
			}, 10*time.Second, 10*time.Millisecond)

			byTitle := map[string]*core.Delivery{}
			require.Eventually(t, func() bool {
				ds, err := b.store.Deliveries(ctx, core.DeliveryFilter{Limit: 100})
				require.NoError(t, err)
				done := 0
				for _, d := range ds {
					ev, err := b.store.Event(ctx, d.EventID)
					require.NoError(t, err)
					if ev.Type != core.EventFindingNew {
						continue
					}
					byTitle[ev.String("title")] = d
					if d.State == core.StateSucceeded || d.State == core.StateSilenced {
						done++
					}
				}
				return done == 2
			}, 10*time.Second, 10*time.Millisecond)
			require.Equal(t, core.StateSucceeded, byTitle["XSS"].State, "another finding is sent")
			if tt.silenced {
				require.Equal(t, core.StateSilenced, byTitle["SQLi"].State)
				require.Equal(t, "s-fp", byTitle["SQLi"].SilenceID())
				require.Equal(t, 4+1, rc.count(), "the scan's four events and one finding.new were sent")
			} else {
				require.Equal(t, core.StateSucceeded, byTitle["SQLi"].State, "a registered webhook is never silenced")
				require.Equal(t, 4+2, rc.count())
			}
		})
	}
}

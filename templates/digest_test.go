package templates_test

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// TestDigestGolden renders the built-in compliance digest for the sample stream (a day of one
// organisation's traffic) for each target type that has one.
func TestDigestGolden(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../samples/stream.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var evs []*event.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev, err := event.Parse(append([]byte(nil), sc.Bytes()...))
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	from, to := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	e, err := templates.New("")
	require.NoError(t, err)
	r := &core.Renderer{Engine: e}
	targets := []*core.Target{
		builtinTargets[2],
		builtinTargets[0],
		builtinTargets[1],
		{Name: "siem", Type: "webhook", Format: notify.FormatJSON},
	}
	for _, tgt := range targets {
		for name, events := range map[string][]*event.Event{"stream": evs, "empty": nil} {
			t.Run(tgt.Type+"/"+name, func(t *testing.T) {
				t.Parallel()
				digestEv, err := core.NewDigestEvent("digest_weekly", core.DigestRun{Digest: "weekly-compliance", From: from, To: to}, to)
				require.NoError(t, err)
				msg := core.SampleMessage(digestEv, tgt, nil)
				msg.Digest = notify.NewDigest("weekly-compliance", from, to, events, 70)
				msg.Digest.Template, msg.Events = "compliance-digest", events
				require.NoError(t, r.Render(msg, tgt, nil))
				requireGolden(t, tgt.Format, msg, filepath.Join("testdata", "digest", tgt.Type+"-"+name+".golden"))
			})
		}
	}
}

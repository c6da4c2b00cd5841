package core

import (
	"fmt"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// FillDigest makes msg the message of a digest run over events, as scheduled runs and
// `cortex-bridge digest run` send it: msg.Digest is the digest its template shows (scores under
// threshold are listed as below target; 0 means DefaultScoreThreshold), msg.Events the events,
// and, when there are any, msg.Attachments one CSV file of them named
// cortex-digest-<digest>-<end of the run, UTC date>.csv.
func FillDigest(msg *notify.Message, run DigestRun, events []*event.Event, threshold float64) {
	dg := notify.NewDigest(run.Digest, run.From, run.To, events, threshold)
	dg.Template = run.Template
	for _, o := range run.OpenFindings {
		o.Repo = event.Repo(o.RepoURL)
		if !o.Oldest.IsZero() && run.To.After(o.Oldest) {
			o.AgeDays = int(run.To.Sub(o.Oldest) / (24 * time.Hour))
		}
		dg.OpenFindings = append(dg.OpenFindings, o)
	}
	msg.Digest, msg.Events = dg, events
	if len(events) > 0 {
		msg.Attachments = []notify.Attachment{{Name: fmt.Sprintf("cortex-digest-%s-%s.csv", run.Digest, run.To.UTC().Format("2006-01-02")),
			ContentType: "text/csv", Data: dg.CSV()}}
	}
}

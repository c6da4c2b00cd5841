package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
)

// tryResult is the dry run of one event as the page shows it: what `cortex-bridge route
// --explain` prints.
type tryResult struct {
	Type, ID string
	Matched  int
	Routes   []routeVerdict
	Digests  []digestVerdict
}

type routeVerdict struct {
	Name      string
	When      string
	Matched   bool
	Stop      bool
	StoppedBy string // an earlier matching route with stop: this one was not evaluated
	Failed    string // the rule failed at run time
	Step      *rules.Step
	Targets   []*preview
}

type digestVerdict struct {
	Name     string
	Collects bool
	Failed   string
}

// tryResultOf shows the dry run res (package dryrun: the bridge's own routing and render path)
// as the page does: every route with its verdict and, for a matching one, each target's preview
// (targets the config does not have are left out); then the digests.
func tryResultOf(res *dryrun.Result) *tryResult {
	out := &tryResult{Type: res.Event.Type, ID: res.Event.ID, Matched: len(res.Matched)}
	for _, rv := range res.Routes {
		v := verdictOf(rv)
		for _, t := range rv.Targets {
			switch {
			case t.Target == nil:
			case t.Already:
				v.Targets = append(v.Targets, &preview{Target: refOf(t.Target), Already: true})
			default:
				v.Targets = append(v.Targets, previewOf(t, res.Event))
			}
		}
		out.Routes = append(out.Routes, v)
	}
	for _, dg := range res.Digests {
		out.Digests = append(out.Digests, digestVerdictOf(dg))
	}
	return out
}

// verdictOf is one route's verdict without its targets' previews.
func verdictOf(rv dryrun.Route) routeVerdict {
	route := rv.Route
	v := routeVerdict{Name: route.Name, When: ruleText(route.When), Stop: route.Stop, StoppedBy: rv.StoppedBy, Matched: rv.Matched}
	if e := rv.Explanation; e != nil {
		v.Step = e.Root
		if e.Err != nil {
			v.Failed = e.Err.Error()
		}
	}
	return v
}

func digestVerdictOf(dg dryrun.Digest) digestVerdict {
	v := digestVerdict{Name: dg.Spec.Name, Collects: dg.Collects}
	if e := dg.Explanation; e != nil && e.Err != nil {
		v.Failed = e.Err.Error()
	}
	return v
}

// previewOf shows t's rendered message for ev.
func previewOf(t *dryrun.Target, ev *event.Event) *preview {
	p := &preview{Target: refOf(t.Target)}
	if t.Err != nil {
		p.Error = t.Err.Error()
		return p
	}
	msg := t.Message
	switch tg := t.Target; {
	case tg.Format == notify.FormatNone:
		p.Kind, p.Note = "file", "An audit record of the original event, one JSON line."
		p.JSON = prettyJSON(ev.Raw)
	case msg.Body == nil:
		p.Kind, p.Note = "json", "The original event, unchanged."
		p.JSON = prettyJSON(ev.Raw)
	case tg.Payload != "" && platformViews[tg.Payload].draw != nil:
		v := platformViews[tg.Payload]
		p.Kind, p.JSON = v.kind, prettyJSON(msg.Body)
		v.draw(p, msg.Body)
	case tg.Format == notify.FormatEmail:
		p.Kind = "email"
		p.Email = &emailView{Subject: msg.Subject, Text: cut(msg.Body, maxPreviewBytes), HTML: msg.HTML}
	default:
		p.Kind, p.JSON = "json", prettyJSON(msg.Body)
	}
	return p
}

// maxEchoBytes is the largest tried event the page shows again in its box (bytes). A Cortex
// event is about 1 KB; showing a paste of ingest.max_body_bytes (1 MiB) again, HTML-escaped, cost
// more than trying it (BENCHMARKS.md, hostile input rows 39 and 41).
const maxEchoBytes = 64 << 10

// maxPreviewBytes bounds each payload a preview shows (bytes): a larger one is shown cut, as
// sent (not indented), with the number of bytes left out.
const maxPreviewBytes = 64 << 10

// prettyJSON indents b for a preview, or cuts it to maxPreviewBytes when it is larger.
func prettyJSON(b []byte) string {
	if len(b) > maxPreviewBytes {
		return cut(b, maxPreviewBytes)
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// cut returns s when it has at most n bytes, else its first n bytes (whole UTF-8 sequences)
// and a line saying how many were left out. A payload is cut as it is, not copied whole into a
// string first (a 1 MiB event was, for each preview).
func cut[T string | []byte](s T, n int) string {
	if len(s) <= n {
		return string(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s\n… (%d more bytes not shown)", s[:n], len(s)-n)
}

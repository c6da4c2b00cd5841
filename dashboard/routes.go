package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// defaultTryBytes bounds the event pasted into "Try an event" while no config is loaded: the
// default of ingest.max_body_bytes.
const defaultTryBytes = 1 << 20

// maxEventBytes is the largest event "Try an event" takes: ingest.max_body_bytes of the config
// in force, so that a signed-in account can make the bridge parse nothing larger than a sender can.
func (d *Dashboard) maxEventBytes() int64 {
	if rt := d.runtime(); rt != nil && rt.Config != nil && rt.Config.Ingest.MaxBodyBytes > 0 {
		return rt.Config.Ingest.MaxBodyBytes
	}
	return defaultTryBytes
}

// maxFormBytes bounds the body of every dashboard POST (bytes): the try form's event
// URL-encoded (at most 3 bytes for each of maxEventBytes) and 64 KiB for the other fields.
func (d *Dashboard) maxFormBytes() int64 { return 3*d.maxEventBytes() + 64<<10 }

type targetRef struct {
	Name, Type, Disabled string
}

type routeRow struct {
	Name     string
	When     string
	Holding  []string // how the route holds events back (group, throttle, quiet hours)
	Targets  []targetRef
	Template string
	Stop     bool
}

type digestRow struct {
	Name      string
	Schedule  string
	When      string
	Target    targetRef
	Template  string
	SendEmpty bool
	NextRun   time.Time
}

type routesData struct {
	NoConfig bool
	Routes   []routeRow
	Digests  []digestRow
	Samples  []string
	Sample   string // the sample loaded into the box
	JSON     string // the event in the box
	Omitted  int    // the size of a tried event not shown again in the box (bytes; 0: shown)
	Error    string // the event could not be read
	Result   *tryResult
}

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

func targetsByName(rt *config.Runtime) map[string]*core.Target {
	m := map[string]*core.Target{}
	for _, t := range rt.Targets {
		m[t.Name] = t
	}
	return m
}

// refNamed is the reference to the target called name; its type is "?" when the config has no
// such target.
func refNamed(targets map[string]*core.Target, name string) targetRef {
	if t := targets[name]; t != nil {
		return refOf(t)
	}
	return targetRef{Name: name, Type: "?"}
}

func refOf(t *core.Target) targetRef {
	return targetRef{Name: t.Name, Type: t.Type, Disabled: t.Disabled}
}

// routesData builds the read-only view of the config in force.
func (d *Dashboard) routesData(r *http.Request) (*routesData, *config.Runtime, error) {
	data := &routesData{Samples: samples.Types()}
	rt := d.runtime()
	if rt == nil {
		data.NoConfig = true
		return data, nil, nil
	}
	targets := targetsByName(rt)
	for _, route := range rt.Router.Routes {
		row := routeRow{Name: route.Name, When: ruleText(route.When), Holding: route.Holding(d.cfg.NowFunc()),
			Template: route.Template, Stop: route.Stop}
		for _, t := range route.Targets {
			row.Targets = append(row.Targets, refNamed(targets, t))
		}
		data.Routes = append(data.Routes, row)
	}
	for _, dg := range rt.Router.Digests {
		row := digestRow{Name: dg.Name, Schedule: dg.Spec, When: ruleText(dg.When), Target: refNamed(targets, dg.Target),
			Template: dg.Template, SendEmpty: dg.SendEmpty}
		s, ok, err := d.cfg.Store.DigestState(r.Context(), dg.Name)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			row.NextRun = s.NextRun
		}
		data.Digests = append(data.Digests, row)
	}
	return data, rt, nil
}

func ruleText(m core.Matcher) string {
	if m == nil {
		return ""
	}
	return strings.TrimSpace(fmt.Sprint(m))
}

func (d *Dashboard) routesPage(w http.ResponseWriter, r *http.Request) {
	data, _, err := d.routesData(r)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data.Sample = r.URL.Query().Get("sample")
	if data.Sample == "" {
		data.Sample = core.EventIssueCritical
	}
	body, err := samples.Get(data.Sample)
	if err != nil {
		data.Error = fmt.Sprintf("There is no sample %q; choose one from the list.", data.Sample)
		data.Sample = ""
	} else {
		data.JSON = string(body)
	}
	d.render(w, r, http.StatusOK, "routes", page{Title: "Routes", Nav: "routes", Data: data})
}

func (d *Dashboard) routesTry(w http.ResponseWriter, r *http.Request) {
	data, rt, err := d.routesData(r)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	data.JSON = r.PostFormValue("event")
	data.Sample = r.PostFormValue("sample")
	status := http.StatusOK
	switch {
	case rt == nil:
		data.Error, status = "This bridge has no routes loaded.", http.StatusServiceUnavailable
	case strings.TrimSpace(data.JSON) == "":
		data.Error, status = "Paste an event's JSON, or load a sample first.", http.StatusUnprocessableEntity
	case int64(len(data.JSON)) > d.maxEventBytes():
		data.Error, status = fmt.Sprintf("The event is larger than %d bytes (ingest.max_body_bytes).", d.maxEventBytes()), http.StatusRequestEntityTooLarge
	default:
		ev, err := core.ParseEventContext(r.Context(), []byte(data.JSON))
		if err != nil {
			data.Error, status = "This is not a valid Cortex event: "+err.Error(), http.StatusUnprocessableEntity
			break
		}
		now := d.cfg.NowFunc()
		ev.ReceivedAt = now.UTC()
		data.Result = tryResultOf(dryrun.Run(rt, ev, dryrun.Options{Now: now}))
	}
	if len(data.JSON) > maxEchoBytes {
		data.Omitted, data.JSON = len(data.JSON), ""
	}
	d.render(w, r, status, "routes", page{Title: "Routes", Nav: "routes", Data: data})
}

// tryResultOf shows the dry run res (package dryrun: the bridge's own routing and render path)
// as the page does: every route with its verdict and, for a matching one, each target's preview
// (targets the config does not have are left out); then the digests.
func tryResultOf(res *dryrun.Result) *tryResult {
	out := &tryResult{Type: res.Event.Type, ID: res.Event.ID, Matched: len(res.Matched)}
	for _, rv := range res.Routes {
		route := rv.Route
		v := routeVerdict{Name: route.Name, When: ruleText(route.When), Stop: route.Stop, StoppedBy: rv.StoppedBy, Matched: rv.Matched}
		if e := rv.Explanation; e != nil {
			v.Step = e.Root
			if e.Err != nil {
				v.Failed = e.Err.Error()
			}
		}
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
		v := digestVerdict{Name: dg.Spec.Name, Collects: dg.Collects}
		if e := dg.Explanation; e != nil && e.Err != nil {
			v.Failed = e.Err.Error()
		}
		out.Digests = append(out.Digests, v)
	}
	return out
}

// previewOf shows t's rendered message for ev.
func previewOf(t *dryrun.Target, ev *core.Event) *preview {
	p := &preview{Target: refOf(t.Target)}
	if t.Err != nil {
		p.Error = t.Err.Error()
		return p
	}
	msg := t.Message
	switch tg := t.Target; {
	case tg.Format == core.FormatNone:
		p.Kind, p.Note = "file", "An audit record of the original event, one JSON line."
		p.JSON = prettyJSON(ev.Raw)
	case msg.Body == nil:
		p.Kind, p.Note = "json", "The original event, unchanged."
		p.JSON = prettyJSON(ev.Raw)
	case tg.Type == "slack":
		p.Kind, p.JSON = "slack", prettyJSON(msg.Body)
		p.Slack = slackPreview(msg.Body)
	case tg.Type == "discord":
		p.Kind, p.JSON = "discord", prettyJSON(msg.Body)
		p.Discord = discordPreview(msg.Body)
	case tg.Format == core.FormatEmail:
		p.Kind = "email"
		p.Email = &emailView{Subject: msg.Subject, Text: cut(string(msg.Body), maxPreviewBytes), HTML: msg.HTML}
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
		return cut(string(b), maxPreviewBytes)
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// cut returns s when it has at most n bytes, else its first n bytes (whole UTF-8 sequences)
// and a line saying how many were left out.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s\n… (%d more bytes not shown)", s[:n], len(s)-n)
}

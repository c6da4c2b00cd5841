package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
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
	JSON     string
	Error    string // the event could not be read
	Result   *tryResult
}

// tryResult is the dry run of one event: what `cortex-bridge route --explain` prints.
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

func refOf(targets map[string]*core.Target, name string) targetRef {
	if t := targets[name]; t != nil {
		return targetRef{Name: name, Type: t.Type, Disabled: t.Disabled}
	}
	return targetRef{Name: name, Type: "?"}
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
			row.Targets = append(row.Targets, refOf(targets, t))
		}
		data.Routes = append(data.Routes, row)
	}
	for _, dg := range rt.Router.Digests {
		row := digestRow{Name: dg.Name, Schedule: dg.Spec, When: ruleText(dg.When), Target: refOf(targets, dg.Target),
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
		data.Sample = event.IssueCritical
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
		ev, err := event.ParseContext(r.Context(), []byte(data.JSON))
		if err != nil {
			data.Error, status = "This is not a valid Cortex event: "+err.Error(), http.StatusUnprocessableEntity
			break
		}
		ev.ReceivedAt = d.cfg.NowFunc().UTC()
		data.Result = dryRun(rt, ev)
	}
	d.render(w, r, status, "routes", page{Title: "Routes", Nav: "routes", Data: data})
}

// dryRun evaluates every route for ev as the bridge does (in order; a rule that fails at run
// time does not match; a matching route with stop ends the evaluation; each target gets the
// event once, from the first route naming it) and renders each target's message, also for
// disabled targets. Nothing is sent or stored, and rule errors are not counted in metrics.
func dryRun(rt *config.Runtime, ev *event.Event) *tryResult {
	res := &tryResult{Type: ev.Type, ID: ev.ID}
	targets := targetsByName(rt)
	seen := map[string]bool{}
	for _, rv := range rules.ExplainRoutes(rt.Router, ev) {
		route := rv.Route
		v := routeVerdict{Name: route.Name, When: ruleText(route.When), Stop: route.Stop, StoppedBy: rv.StoppedBy, Matched: rv.Matched}
		if e := rv.Explanation; e != nil {
			v.Step = e.Root
			if e.Err != nil {
				v.Failed = e.Err.Error()
			}
		}
		if v.Matched {
			res.Matched++
			for _, name := range route.Targets {
				t := targets[name]
				switch {
				case t == nil:
				case seen[name]:
					v.Targets = append(v.Targets, &preview{Target: refOf(targets, name), Already: true})
				default:
					seen[name] = true
					v.Targets = append(v.Targets, render(rt, t, route, ev))
				}
			}
		}
		res.Routes = append(res.Routes, v)
	}
	for _, dg := range rt.Router.Digests {
		v := digestVerdict{Name: dg.Name, Collects: true}
		if dg.When != nil {
			e := rules.ExplainMatcher(dg.When, ev)
			v.Collects = e.Matched
			if e.Err != nil {
				v.Failed = e.Err.Error()
			}
		}
		res.Digests = append(res.Digests, v)
	}
	return res
}

// render renders t's message for ev via route into a preview.
func render(rt *config.Runtime, t *core.Target, route *core.Route, ev *event.Event) *preview {
	p := &preview{Target: targetRef{Name: t.Name, Type: t.Type, Disabled: t.Disabled}}
	msg := core.SampleMessage(ev, t, route)
	if err := rt.Renderer.Render(msg, t, route); err != nil {
		p.Error = err.Error()
		return p
	}
	switch {
	case t.Format == notify.FormatNone:
		p.Kind, p.Note = "file", "An audit record of the original event, one JSON line."
		p.JSON = prettyJSON(ev.Raw)
	case msg.Body == nil:
		p.Kind, p.Note = "json", "The original event, unchanged."
		p.JSON = prettyJSON(ev.Raw)
	case platformViews[t.Type] != nil:
		p.Kind, p.JSON = t.Type, prettyJSON(msg.Body)
		platformViews[t.Type](p, msg.Body)
	case t.Format == notify.FormatEmail:
		p.Kind = "email"
		p.Email = &emailView{Subject: msg.Subject, Text: string(msg.Body), HTML: msg.HTML}
	default:
		p.Kind, p.JSON = "json", prettyJSON(msg.Body)
	}
	return p
}

func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

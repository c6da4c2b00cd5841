package dashboard

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/dryrun"
	"github.com/cortexbridge/cortex-bridge/event"
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
		now := d.cfg.NowFunc()
		ev.ReceivedAt = now.UTC()
		// What earlier events of the event's scan told, as a delivery would render it; without
		// it (no store, storage unavailable) the event renders with what it holds.
		var scans map[string]event.Scan
		if d.cfg.Store != nil {
			scans, _ = d.cfg.Store.Scans(r.Context(), core.ScanIDs([]*event.Event{ev}))
		}
		data.Result = tryResultOf(dryrun.Run(rt, ev, dryrun.Options{Now: now, Scans: scans}))
	}
	if len(data.JSON) > maxEchoBytes {
		data.Omitted, data.JSON = len(data.JSON), ""
	}
	d.render(w, r, status, "routes", page{Title: "Routes", Nav: "routes", Data: data})
}

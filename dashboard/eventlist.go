package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// eventPageSize is how many events a page of the events list shows.
const eventPageSize = 25

// eventListParams are the events list's query parameters, in the order the form shows them.
var eventListParams = []string{"q", "type", "severity", "repository", "scan_id", "delivery", "from", "to"}

type eventListData struct {
	Filter     map[string]string // the query parameters as given
	Errors     map[string]string // by parameter
	Rows       []eventRow
	Next       string // the next page's URL
	First      bool
	Admin      bool
	EventTypes []string
	States     []string
}

// eventRow is one event of the list with its deliveries the account sees, counted by status.
type eventRow struct {
	core.EventSummary
	Deliveries []statusCount // statuses with at least one delivery, in core.Statuses order
}

// eventList is the events list at /events: an admin sees every event, any other account the
// events delivered to its webhooks.
func (d *Dashboard) eventList(w http.ResponseWriter, r *http.Request) {
	sc, err := d.scopeOf(r)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	q := r.URL.Query()
	data := eventListData{Filter: map[string]string{}, Errors: map[string]string{}, First: q.Get("cursor") == "", Admin: sc.admin,
		EventTypes: event.Types, States: core.EventDeliveryStates}
	for _, k := range eventListParams {
		data.Filter[k] = q.Get(k)
	}
	fl := data.Filter
	f := core.EventFilter{Type: fl["type"], Severity: fl["severity"], Repository: fl["repository"], ScanID: fl["scan_id"],
		Delivery: fl["delivery"], Text: fl["q"], Targets: sc.targets(), Cursor: q.Get("cursor"), Limit: eventPageSize}
	if f.Type != "" && !slices.Contains(event.Types, f.Type) && !core.IsBridgeEvent(f.Type) {
		data.Errors["type"] = "Choose an event type from the list."
	}
	if f.Delivery != "" && !slices.Contains(core.EventDeliveryStates, f.Delivery) {
		data.Errors["delivery"] = "Choose a delivery state from the list."
	}
	if len(f.Text) > core.MaxTextBytes {
		data.Errors["q"] = fmt.Sprintf("Use at most %d bytes of text.", core.MaxTextBytes)
	}
	f.From, f.To = dateRange(fl["from"], fl["to"], data.Errors)
	if len(data.Errors) > 0 {
		d.render(w, r, http.StatusBadRequest, "events", page{Title: "Events", Nav: "events", Data: data})
		return
	}
	p, err := d.cfg.Store.Events(r.Context(), f)
	switch {
	case errors.Is(err, core.ErrBadCursor):
		d.fail(w, r, http.StatusBadRequest, "That page link is not valid any more. Start again from the first page.")
		return
	case err != nil:
		d.unavailable(w, r, err)
		return
	}
	// Where each event of the page went: one query for the page's deliveries.
	ids := make([]string, len(p.Events))
	for i, ev := range p.Events {
		ids[i] = ev.ID
	}
	deliveries, err := d.cfg.Store.DeliveriesOf(r.Context(), ids, f.Targets)
	if err != nil {
		d.unavailable(w, r, err)
		return
	}
	for _, ev := range p.Events {
		byStatus := map[string]int{}
		for _, dl := range deliveries[ev.ID] {
			byStatus[dl.Status()]++
		}
		row := eventRow{EventSummary: ev}
		counts, _ := countsOf(byStatus)
		for _, c := range counts {
			if c.N > 0 {
				row.Deliveries = append(row.Deliveries, c)
			}
		}
		data.Rows = append(data.Rows, row)
	}
	if p.NextCursor != "" {
		next := url.Values{}
		for _, k := range eventListParams {
			if v := fl[k]; v != "" {
				next.Set(k, v)
			}
		}
		next.Set("cursor", p.NextCursor)
		data.Next = "/events?" + next.Encode()
	}
	d.render(w, r, http.StatusOK, "events", page{Title: "Events", Nav: "events", Data: data})
}

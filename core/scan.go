package core

import (
	"context"
	"maps"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// ScanIDs returns the scan ids (data.scan_id, strings of 1–event.MaxScanIDBytes bytes) of
// events, each once, in order of first appearance.
func ScanIDs(events []*event.Event) []string {
	var ids []string
	seen := map[string]bool{}
	for _, ev := range events {
		if id := ev.String("scan_id"); id != "" && len(id) <= event.MaxScanIDBytes && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// loadScans sets msg.Scans to the scan contexts of msg's events' scans, from d.scans where it
// holds them (scanCache). A storage failure is a retryable server_error: the message would
// otherwise go out without what the scan told.
func (d *Dispatcher) loadScans(ctx context.Context, msg *notify.Message) error {
	events := msg.Events
	if len(events) == 0 && msg.Event != nil {
		events = []*event.Event{msg.Event}
	}
	ids := ScanIDs(events)
	if len(ids) == 0 {
		return nil
	}
	if d.scans == nil {
		scans, err := d.store.Scans(ctx, ids)
		if err != nil {
			return &notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true}
		}
		msg.Scans = scans
		return nil
	}
	scans, missing := d.scans.get(ids)
	if len(missing) > 0 {
		got, err := d.store.Scans(ctx, missing)
		d.scans.keep(missing, got)
		if err != nil {
			return &notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true}
		}
		if scans == nil {
			scans = got
		} else {
			maps.Copy(scans, got)
		}
	}
	msg.Scans = scans
	return nil
}

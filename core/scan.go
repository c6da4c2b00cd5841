package core

import (
	"context"

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

// loadScans sets msg.Scans to the scan contexts of msg's events' scans. A storage failure is a
// retryable server_error: the message would otherwise go out without what the scan told.
func (d *Dispatcher) loadScans(ctx context.Context, msg *notify.Message) error {
	events := msg.Events
	if len(events) == 0 && msg.Event != nil {
		events = []*event.Event{msg.Event}
	}
	ids := ScanIDs(events)
	if len(ids) == 0 {
		return nil
	}
	scans, err := d.store.Scans(ctx, ids)
	if err != nil {
		return &notify.DeliveryError{Err: err, Reason: notify.ReasonServerError, Retryable: true}
	}
	msg.Scans = scans
	return nil
}

package core

import "slices"

// StatusFailed is the status listings show for a pending delivery waiting for its next
// attempt after a failed one (Delivery.Status).
const StatusFailed = "failed"

// Statuses are the delivery statuses listings show and filter on (the management API, the
// dashboard, `cortex-bridge deliveries list`), in the order pages list them.
var Statuses = []string{string(StateSucceeded), StatusFailed, string(StatePending), string(StateRunning), string(StateDead), string(StateCancelled), string(StateSilenced)}

// Status is how listings show d: StatusFailed for a pending delivery whose last attempt
// failed, otherwise its State.
func (d *Delivery) Status() string {
	if d.State == StatePending && d.Attempts > d.RetryBase {
		return StatusFailed
	}
	return string(d.State)
}

// SetStatus makes f select the deliveries whose Status is status ("": any) and reports
// whether status is "" or one of Statuses; f is unchanged when it is not.
func (f *DeliveryFilter) SetStatus(status string) bool {
	switch {
	case status == "":
	case status == StatusFailed:
		f.Failed = true
	case slices.Contains(Statuses, status):
		f.State = State(status)
	default:
		return false
	}
	return true
}

package core

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// DigestEventType is the type of the event the scheduler stores for each digest run. It is the
// bridge's own event: it carries the run's DigestRun and is delivered to the digest's target
// through the delivery queue like any other event (retries, attempt log, dead letters).
const DigestEventType = "cortex_bridge.digest"

// DigestRun is the body of a digest run's event: which digest, which period.
type DigestRun struct {
	Digest   string    `json:"digest"`
	Template string    `json:"template"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// OpenFindings are the open findings per repository and branch when the period closed
	// (FindingStore.OpenFindings), kept with the run so a retry shows the same.
	OpenFindings []notify.OpenFindings `json:"open_findings,omitempty"`
}

// NewDigestEvent builds the event that carries a digest run.
func NewDigestEvent(id string, run DigestRun, now time.Time) (*event.Event, error) {
	body, err := json.Marshal(map[string]any{"event": DigestEventType, "id": id, "timestamp": now.UTC().Format(time.RFC3339Nano), "data": run})
	if err != nil {
		return nil, err
	}
	ev, err := event.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("digest event: %w", err)
	}
	ev.ReceivedAt = now.UTC()
	return ev, nil
}

// DigestRunOf reads the run an event of DigestEventType carries.
func DigestRunOf(ev *event.Event) (DigestRun, error) {
	var wrapper struct {
		Data DigestRun `json:"data"`
	}
	err := json.Unmarshal(ev.Raw, &wrapper)
	return wrapper.Data, err
}

package file

import (
	"context"
	"fmt"

	"github.com/cortexbridge/cortex-bridge/notify"
)

var (
	_ notify.Previewer       = (*Notifier)(nil)
	_ notify.ConfigPreviewer = (*Config)(nil)
)

// Preview implements notify.Previewer: the line Notify would append for msg (one JSON object
// and a newline, Line), without writing anything.
func (n *Notifier) Preview(_ context.Context, msg *notify.Message) (*notify.Preview, error) {
	var c *Config
	return c.Preview(msg)
}

// Preview implements notify.ConfigPreviewer: the line a target of this config would append,
// without opening its file (the line does not depend on the config).
func (c *Config) Preview(msg *notify.Message) (*notify.Preview, error) {
	line, err := lineOf(msg)
	if err != nil {
		return nil, err
	}
	return &notify.Preview{ContentType: "application/x-ndjson", Body: line}, nil
}

// lineOf is the line appended for msg; an event that cannot be encoded is a client_error.
func lineOf(msg *notify.Message) ([]byte, error) {
	line, err := appendLine(nil, Line{ReceivedAt: msg.Event.ReceivedAt, Event: msg.Event.Raw, Route: msg.Route, Target: msg.Target, DeliveryID: msg.DeliveryID})
	if err != nil {
		return nil, &notify.DeliveryError{Err: fmt.Errorf("event %s: %w", msg.Event.ID, err), Reason: notify.ReasonClientError}
	}
	return line, nil
}

package discord

import (
	"context"
	"net/http"

	"github.com/cortexbridge/cortex-bridge/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the execute-webhook body Notify would send for msg
// (fitted into Discord's limits, allowed_mentions forced, no "components": null), built by
// Notify itself through a client that sends nothing; the webhook token is redacted.
func (n *Notifier) Preview(ctx context.Context, msg *notify.Message) (*notify.Preview, error) {
	return notify.PreviewHTTP(ctx, n.secrets(), func(ctx context.Context, client *http.Client) error {
		p := *n
		p.client = &http.Client{Transport: &transport{base: n.endpoint.base, next: client.Transport}}
		return p.Notify(ctx, msg)
	})
}

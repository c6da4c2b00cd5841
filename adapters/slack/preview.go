package slack

import (
	"context"
	"net/http"

	"github.com/cortexbridge/cortex-bridge/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the body Notify would post for msg (the incoming
// webhook's JSON, or chat.postMessage's form in bot-token mode), built by Notify itself on a
// client that sends nothing; the webhook URL and the token are redacted.
func (n *Notifier) Preview(ctx context.Context, msg *notify.Message) (*notify.Preview, error) {
	return notify.PreviewHTTP(ctx, n.secrets, func(ctx context.Context, client *http.Client) error {
		p := *n
		p.client = client
		if n.api != nil {
			p.api = newAPI(&n.cfg, client)
		}
		return p.Notify(ctx, msg)
	})
}

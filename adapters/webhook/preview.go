package webhook

import (
	"context"
	"net/http"

	"github.com/cortexbridge/cortex-bridge/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the body Notify would POST for msg (the rendered
// template or the original event, with the preset's body fields), built by Notify itself
// through a client that sends nothing; the target's credentials are redacted.
func (n *Notifier) Preview(ctx context.Context, msg *notify.Message) (*notify.Preview, error) {
	return notify.PreviewHTTP(ctx, n.secrets, func(ctx context.Context, client *http.Client) error {
		p := *n
		p.client = client
		return p.Notify(ctx, msg)
	})
}

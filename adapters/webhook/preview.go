package webhook

import (
	"context"

	"github.com/cortexbridge/cortex-bridge/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the body Notify would POST for msg (the rendered
// template or the original event, with the preset's body fields), built by Notify itself
// through a client that sends nothing; the target's credentials are redacted.
func (n *Notifier) Preview(ctx context.Context, msg *notify.Message) (*notify.Preview, error) {
	client, capture := notify.CaptureClient()
	p := *n
	p.client = client
	return notify.PreviewHTTP(ctx, capture, n.secrets, func(ctx context.Context) error { return p.Notify(ctx, msg) })
}

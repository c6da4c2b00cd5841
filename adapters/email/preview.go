package email

import (
	"bytes"
	"context"

	"github.com/cortexbridge/cortex-bridge/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the message as Notify would write it after the SMTP
// DATA command (headers, text and HTML parts, attachments), built by the same code. Its Date,
// Message-ID and MIME boundaries are those of this preview: each send makes its own. No
// connection is made.
func (n *Notifier) Preview(_ context.Context, msg *notify.Message) (*notify.Preview, error) {
	m, err := n.build(msg)
	if err != nil {
		return nil, &notify.DeliveryError{Err: err, Reason: notify.ReasonConfig}
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, &notify.DeliveryError{Err: err, Reason: notify.ReasonConfig}
	}
	return &notify.Preview{ContentType: "message/rfc822", Body: b.Bytes()}, nil
}

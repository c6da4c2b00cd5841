package slack

import (
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// The buttons of a message sent in bot-token mode with a signing secret: the action ids Slack
// sends back to the Request URL (Interactions), each with the event id as value.
const (
	actionsBlockID = "cortex_bridge.actions"
	statusBlockID  = "cortex_bridge.status"
	actionAck      = "cortex_bridge.ack"
	actionMute     = "cortex_bridge.mute." // + the duration's label
	actionOpen     = "cortex_bridge.open"
	// maxButtonValue is a button's value limit, the event id it carries
	// (https://docs.slack.dev/reference/block-kit/block-elements/button-element).
	maxButtonValue = 2000
	// maxButtonURL is a link button's url limit (same page).
	maxButtonURL = 3000
)

// muteChoices are the Mute buttons: label (also the action id's suffix) and duration.
var muteChoices = []struct {
	label string
	d     time.Duration
}{{"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}}

// muteDuration returns the duration of a Mute button's action id.
func muteDuration(actionID string) (time.Duration, bool) {
	for _, c := range muteChoices {
		if actionID == actionMute+c.label {
			return c.d, true
		}
	}
	return 0, false
}

// addActions appends the actions block (Acknowledge, Mute 1h / 24h / 7d, Open event) to m when
// msg is about one Cortex event (not a digest, a group or one of the bridge's own alerts) and
// there is room; it returns notes when it had to leave the buttons out.
func (n *Notifier) addActions(m *slack.WebhookMessage, msg *notify.Message) []string {
	ev := msg.Event
	if ev == nil || msg.Digest != nil || msg.Group != nil || !event.IsKnownType(ev.Type) {
		return nil
	}
	if len(ev.ID) > maxButtonValue {
		return []string{fmt.Sprintf("buttons left out: the event id is over %d bytes", maxButtonValue)}
	}
	if m.Blocks == nil {
		m.Blocks = &slack.Blocks{}
	}
	if len(m.Blocks.BlockSet) >= maxBlocks && len(m.Attachments) == 0 {
		return []string{fmt.Sprintf("buttons left out: the message already has %d blocks", maxBlocks)}
	}
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	ack := slack.NewButtonBlockElement(actionAck, ev.ID, plain("Acknowledge"))
	ack.Style = slack.StylePrimary
	elems := []slack.BlockElement{ack}
	for _, c := range muteChoices {
		elems = append(elems, slack.NewButtonBlockElement(actionMute+c.label, ev.ID, plain("Mute "+c.label)))
	}
	if n.publicURL != "" {
		link := notify.EventURL(n.publicURL, ev.ID)
		if len(link) <= maxButtonURL {
			elems = append(elems, slack.NewButtonBlockElement(actionOpen, ev.ID, plain("Open event")).WithURL(link))
		}
	}
	actions := slack.NewActionBlock(actionsBlockID, elems...)
	// The built-in templates put the finding in an attachment (for its colour bar): the
	// buttons go under it, in the same attachment, rather than above it.
	if len(m.Blocks.BlockSet) == 0 && len(m.Attachments) > 0 {
		last := &m.Attachments[len(m.Attachments)-1]
		if len(last.Blocks.BlockSet) < maxBlocks {
			last.Blocks.BlockSet = append(last.Blocks.BlockSet, actions)
			return nil
		}
	}
	m.Blocks.BlockSet = append(m.Blocks.BlockSet, actions)
	return nil
}
